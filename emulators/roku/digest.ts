/**
 * Server side of HTTP Digest authentication (RFC 7616 / 2617) as a Roku's developer web server
 * does it: user `rokudev`, realm `rokudev`, qop="auth", MD5.
 *
 * Nonces are issued by this server, expire, and each (nonce, nc) pair is accepted once, so a
 * captured Authorization header cannot be replayed.
 */
import { createHash, randomBytes, timingSafeEqual } from 'crypto';

export const DIGEST_USER = 'rokudev';
export const DIGEST_REALM = 'rokudev';

export interface DigestCheck {
    ok: boolean;
    /** Why it failed (for the server's own log; never sent to the client). */
    reason?: string;
    /** The nonce was ours but expired: the client should retry with the new challenge. */
    stale?: boolean;
}

function md5(text: string): string {
    return createHash('md5').update(text).digest('hex');
}

/** Parses `Digest a=b, c="d, e"` into a lower-cased key map. */
export function parseDigestHeader(header: string): Record<string, string> | undefined {
    const m = /^\s*Digest\s+(.*)$/is.exec(header);
    if (!m) {
        return undefined;
    }
    const out: Record<string, string> = {};
    const re = /([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*(?:,|$)/g;
    let part: RegExpExecArray | null;
    while ((part = re.exec(m[1])) !== null) {
        out[part[1].toLowerCase()] = part[2] !== undefined ? part[2].replace(/\\(.)/g, '$1') : part[3];
        if (part[0].length === 0) {
            break;
        }
    }
    return out;
}

export class DigestAuthenticator {
    private readonly nonces = new Map<string, { issued: number; lastNc: number }>();

    constructor(
        private readonly getPassword: () => string,
        private readonly nonceLifetimeMs = 5 * 60 * 1000
    ) {}

    /** The value of the WWW-Authenticate header for a 401 answer. */
    challenge(stale = false): string {
        this.prune();
        const nonce = Date.now().toString(16) + randomBytes(12).toString('hex');
        this.nonces.set(nonce, { issued: Date.now(), lastNc: 0 });
        return `Digest qop="auth", realm="${DIGEST_REALM}", nonce="${nonce}"${stale ? ', stale=true' : ''}`;
    }

    /**
     * Validates an Authorization header for a request.
     * @param method the request method (GET, POST, HEAD)
     * @param url the request target exactly as received (path and query)
     */
    check(header: string | undefined, method: string, url: string): DigestCheck {
        if (!header) {
            return { ok: false, reason: 'no Authorization header' };
        }
        const p = parseDigestHeader(header);
        if (!p) {
            return { ok: false, reason: 'not a Digest Authorization header' };
        }
        const { username, realm, nonce, uri, response, qop, nc, cnonce } = p;
        if (username !== DIGEST_USER) {
            return { ok: false, reason: `unknown user ${JSON.stringify(username)}` };
        }
        if (realm !== DIGEST_REALM) {
            return { ok: false, reason: 'wrong realm' };
        }
        if (p.algorithm && p.algorithm.toUpperCase() !== 'MD5') {
            return { ok: false, reason: `unsupported algorithm ${p.algorithm}` };
        }
        if (qop !== 'auth' || !nc || !cnonce || !/^[0-9a-f]{8}$/i.test(nc)) {
            return { ok: false, reason: 'qop="auth" with nc and cnonce is required' };
        }
        if (!uri || !response || !nonce) {
            return { ok: false, reason: 'incomplete Authorization header' };
        }
        if (!uriMatches(uri, url)) {
            return { ok: false, reason: `digest uri ${uri} does not match the request ${url}` };
        }
        const entry = this.nonces.get(nonce);
        if (!entry) {
            return { ok: false, reason: 'unknown nonce' };
        }
        if (Date.now() - entry.issued > this.nonceLifetimeMs) {
            this.nonces.delete(nonce);
            return { ok: false, stale: true, reason: 'stale nonce' };
        }
        const ha1 = md5(`${DIGEST_USER}:${DIGEST_REALM}:${this.getPassword()}`);
        const ha2 = md5(`${method.toUpperCase()}:${uri}`);
        const expected = md5(`${ha1}:${nonce}:${nc}:${cnonce}:${qop}:${ha2}`);
        const given = Buffer.from(response.toLowerCase().padEnd(32, '0').slice(0, 32));
        if (response.length !== 32 || !timingSafeEqual(Buffer.from(expected), given)) {
            return { ok: false, reason: 'wrong password (response hash mismatch)' };
        }
        const ncValue = parseInt(nc, 16);
        if (ncValue <= entry.lastNc) {
            return { ok: false, reason: 'replayed nonce count' };
        }
        entry.lastNc = ncValue;
        return { ok: true };
    }

    private prune(): void {
        const now = Date.now();
        for (const [nonce, entry] of this.nonces) {
            if (now - entry.issued > this.nonceLifetimeMs) {
                this.nonces.delete(nonce);
            }
        }
    }
}

/** The digest `uri` must name the requested resource: same path, and same query when it has one. */
function uriMatches(digestUri: string, requestUrl: string): boolean {
    if (digestUri === requestUrl) {
        return true;
    }
    try {
        const a = new URL(digestUri, 'http://device');
        const b = new URL(requestUrl, 'http://device');
        // Some clients sign the path without the query string.
        return a.pathname === b.pathname && (a.search === '' || a.search === b.search);
    } catch {
        return false;
    }
}
