#!/usr/bin/env node
// The container's HEALTHCHECK (Dockerfile): exit 0 when GET /livez on this node answers 200.
// HTTPS when the node serves TLS (LALLY_TLS_CERT): on loopback the certificate is not verified (its
// name is the node's, not 127.0.0.1; liveness is what is asked). Node's own http, as the image has no curl.
import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';

const tls = Boolean(process.env.LALLY_TLS_CERT);
const request = (tls ? httpsGet : httpGet)(
  {
    host: '127.0.0.1',
    port: Number(process.env.LALLY_HTTP_PORT || 3000),
    path: '/livez',
    timeout: 2500,
    rejectUnauthorized: false,
  },
  (response) => {
    response.resume();
    process.exit(response.statusCode === 200 ? 0 : 1);
  },
);
request.on('timeout', () => request.destroy(new Error('timeout')));
request.on('error', () => process.exit(1));
