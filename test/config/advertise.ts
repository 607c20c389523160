import t from 'tap';
import { advertisedAddress, isWildcardHost, joinHostPort } from '../../src/config/advertise.js';

t.test('the advertised address: the flag, else a specific bind host, else decided at join', async (t) => {
  t.equal(
    advertisedAddress({ advertise: 'db1.example:6000', host: '0.0.0.0', grpcPort: 50071 }),
    'db1.example:6000',
  );
  t.equal(advertisedAddress({ advertise: undefined, host: '10.1.2.3', grpcPort: 50072 }), '10.1.2.3:50072');
  t.equal(advertisedAddress({ advertise: undefined, host: 'fe80::1', grpcPort: 50071 }), '[fe80::1]:50071');
  for (const host of ['0.0.0.0', '::', '[::]']) {
    t.ok(isWildcardHost(host), host);
    t.equal(
      advertisedAddress({ advertise: undefined, host, grpcPort: 50071 }),
      undefined,
      `${host}: at join`,
    );
  }
  t.notOk(isWildcardHost('127.0.0.1'));
  t.equal(joinHostPort('[::1]', 1), '[::1]:1');
});
