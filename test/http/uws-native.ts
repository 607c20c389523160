import { existsSync } from 'node:fs';
import t from 'tap';
import { loadNativeUws, nativeBinaryPath } from '../../src/http/uws-native.js';
import { repoPath } from '../fixtures/paths.js';

t.test('the native build for this Node is found and loads', async (t) => {
  const path = nativeBinaryPath();
  t.match(path, new RegExp(`uws_${process.platform}_${process.arch}_${process.versions.modules}\\.node$`));
  t.ok(existsSync(path), 'the package ships a build for this platform');
  const uws = loadNativeUws();
  t.type(uws.App, 'function');
  t.equal(loadNativeUws(), uws, 'loaded once');
});

t.test(
  'a missing native build is refused with a message that says why, never the slow fallback',
  async (t) => {
    t.throws(() => loadNativeUws('/nonexistent/uws_linux_x64_0.node'), {
      code: 'LALLY_ERR_NATIVE_UWS_MISSING',
      message: new RegExp(
        `Node ${process.version.replace(/\./g, '\\.')}.*ABI ${process.versions.modules}.*glibc`,
      ),
    });
  },
);

t.test('a module that loads but is not uWS is refused too', async (t) => {
  t.throws(() => loadNativeUws(repoPath('package.json')), {
    code: 'LALLY_ERR_NATIVE_UWS_MISSING',
    message: /has no App\(\)/,
  });
});
