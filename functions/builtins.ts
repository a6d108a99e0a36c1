/**
 * The node built-ins the function, its clients and the copier send requests with, required
 * rather than imported. An ESM import of a built-in snapshots all of its exports, which runs
 * their lazy getters: node:http's `WebSocket` loads undici (+14 MiB resident, +40 ms in a bare
 * process; 30 ms and 2.4 MiB on top of faas-js-runtime, on every cold start), node:tls's
 * `rootCertificates` parses every public root, node:crypto loads webcrypto and key objects.
 * require() leaves them lazy, and nothing here uses them. node:https (with tls and crypto's TLS
 * parts) is required only when a server speaks TLS, and node:fs only to read a file (local-file.ts):
 * each is some milliseconds of start-up (README "Benchmarks").
 */
import { createRequire } from 'node:module';

const builtin = createRequire(import.meta.url);

export const http = builtin('node:http') as typeof import('node:http');
export const net = builtin('node:net') as typeof import('node:net');
export const { createHash } = builtin('node:crypto') as typeof import('node:crypto');
export const https = (): typeof import('node:https') => builtin('node:https') as typeof import('node:https');
export const tls = (): typeof import('node:tls') => builtin('node:tls') as typeof import('node:tls');
export const fs = (): typeof import('node:fs') => builtin('node:fs') as typeof import('node:fs');
