import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { resendVerdict, type AttemptEnd, type ResendVerdict } from './resend.js';

const answered = (status: number): AttemptEnd => ({ kind: 'response', status });
const timedOut = (connected: boolean): AttemptEnd => ({ kind: 'timeout', connected });
const dropped = (code: string, connected: boolean): AttemptEnd => ({ kind: 'network', code, connected });

describe('resendVerdict: what may be sent to Thoth again', () => {
  const cases: [string, AttemptEnd, ResendVerdict, ResendVerdict][] = [
    // what happened, how the attempt ended, verdict for a POST, verdict for a GET
    ['202 accepted', answered(202), 'answer', 'answer'],
    ['302, never followed', answered(302), 'answer', 'answer'],
    ['403, a final refusal', answered(403), 'answer', 'answer'],
    ['404', answered(404), 'answer', 'answer'],
    ['408 from the server: it never got the whole request', answered(408), 'retry', 'retry'],
    ['409', answered(409), 'retry', 'retry'],
    ['429', answered(429), 'retry', 'retry'],
    ["500, Thoth's own error", answered(500), 'retry', 'retry'],
    ['503 from the router: no pod ready', answered(503), 'retry', 'retry'],
    ['502 from a gateway that may have forwarded it', answered(502), 'unknown', 'retry'],
    ['504 from a gateway that may have forwarded it', answered(504), 'unknown', 'retry'],
    ['501, which nobody in front of Thoth is known to send', answered(501), 'unknown', 'retry'],
    ['a timeout once the connection was open', timedOut(true), 'unknown', 'retry'],
    ['a timeout while connecting', timedOut(false), 'retry', 'retry'],
    ['ECONNRESET once the connection was open', dropped('ECONNRESET', true), 'unknown', 'retry'],
    ['EPIPE once the connection was open', dropped('EPIPE', true), 'unknown', 'retry'],
    ['EHOSTUNREACH reported on an open connection', dropped('EHOSTUNREACH', true), 'unknown', 'retry'],
    ['ECONNREFUSED', dropped('ECONNREFUSED', false), 'retry', 'retry'],
    ['ENOTFOUND', dropped('ENOTFOUND', false), 'retry', 'retry'],
    ['EAI_AGAIN', dropped('EAI_AGAIN', false), 'retry', 'retry'],
    ['ENETUNREACH before connecting', dropped('ENETUNREACH', false), 'retry', 'retry'],
    ['a certificate that does not verify', dropped('UNABLE_TO_VERIFY_LEAF_SIGNATURE', true), 'untrusted', 'untrusted'],
  ];
  for (const [what, end, post, get] of cases) {
    it(`${what}: a submission ${post === 'retry' ? 'is sent again' : `→ ${post}`}, a GET ${get === 'retry' ? 'is sent again' : `→ ${get}`}`, () => {
      assert.equal(resendVerdict(end, 'POST'), post);
      assert.equal(resendVerdict(end, 'GET'), get);
      assert.equal(resendVerdict(end, 'get'), get, 'methods compare without case');
    });
  }
});
