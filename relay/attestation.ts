/**
 * Proofs, all with jose:
 * - device proof: a JWT (RS256 or ES256) signed by the device attestation key whose certificate (or
 *   public key) the relay is configured with, bound to a single-use nonce the relay issued;
 * - check tokens: an opaque HS256 JWT the relay returns with an accepted receipt, bound to
 *   (email, offer), that `/v1/entitlements/check` asks for.
 */
import { createHmac, createPublicKey, KeyObject, randomBytes, webcrypto, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { errors as joseErrors, jwtVerify } from 'jose';
import type { RelayStore } from './store';

export interface AttestationKey {
    key: KeyObject;
    /** Certificate validity (ms since epoch), when configured with a certificate. */
    validFrom?: number;
    validTo?: number;
}

/**
 * Load the verification key from a PEM certificate or PEM public key, given as the PEM text
 * itself or as a path to a file holding it.
 */
export function loadAttestationKey(pemOrPath: string): AttestationKey {
    const pem = pemOrPath.includes('-----BEGIN') ? pemOrPath : readFileSync(pemOrPath, 'utf8');
    if (pem.includes('-----BEGIN CERTIFICATE-----')) {
        const cert = new X509Certificate(pem);
        return { key: cert.publicKey, validFrom: Date.parse(cert.validFrom), validTo: Date.parse(cert.validTo) };
    }
    return { key: createPublicKey(pem) };
}

/** A fresh nonce for `POST /v1/nonce`, kept in the shared store (single use). */
export async function issueNonce(store: RelayStore, ttlMs: number, now = Date.now()): Promise<{ nonce: string; expiresAt: number }> {
    const nonce = randomBytes(18).toString('base64url');
    await store.issueNonce(nonce, ttlMs);
    return { nonce, expiresAt: now + ttlMs };
}

export interface AttestationPolicy {
    key: AttestationKey;
    store: RelayStore;
    /** When set, the channel claim must equal it. */
    channelId?: string;
    channelClaim: string;
    skewSec: number;
    maxAgeSec: number;
}

export type AttestationResult = { ok: true } | { ok: false; reason: string };

/** The one algorithm that fits the key: RS256 for RSA, ES256 for P-256; anything else is refused. */
function algorithmsFor(key: KeyObject): string[] {
    if (key.asymmetricKeyType === 'rsa') {
        return ['RS256'];
    }
    if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') {
        return ['ES256'];
    }
    return [];
}

function reasonOf(e: unknown): string {
    if (e instanceof joseErrors.JWTExpired) {
        return 'expired';
    }
    if (e instanceof joseErrors.JWTClaimValidationFailed) {
        return e.claim === 'iat' ? (e.reason === 'check_failed' ? 'too-old' : `iat-${e.reason}`) : `claim-${e.claim}`;
    }
    if (e instanceof joseErrors.JWSSignatureVerificationFailed) {
        return 'signature';
    }
    if (e instanceof joseErrors.JOSEAlgNotAllowed || e instanceof joseErrors.JOSENotSupported) {
        return 'algorithm';
    }
    return 'malformed';
}

/**
 * Verify a device proof: the nonce was issued here and is used now (single use, even when the
 * rest fails), the signature is good with the one algorithm the key allows, the `nonce` claim
 * equals it, the channel claim matches, and `iat` (required), `exp`, `nbf` are within the skew.
 */
export async function verifyAttestation(
    attestation: { token: string; nonce: string } | undefined,
    policy: AttestationPolicy,
    now = Date.now(),
): Promise<AttestationResult> {
    if (!attestation) {
        return { ok: false, reason: 'missing' };
    }
    if (!(await policy.store.consumeNonce(attestation.nonce))) {
        return { ok: false, reason: 'nonce-unknown' };
    }
    if (policy.key.validFrom !== undefined && now < policy.key.validFrom - policy.skewSec * 1000) {
        return { ok: false, reason: 'cert-not-yet-valid' };
    }
    if (policy.key.validTo !== undefined && now > policy.key.validTo + policy.skewSec * 1000) {
        return { ok: false, reason: 'cert-expired' };
    }
    let claims: Record<string, unknown>;
    try {
        const r = await jwtVerify(attestation.token, policy.key.key, {
            algorithms: algorithmsFor(policy.key.key),
            clockTolerance: policy.skewSec,
            maxTokenAge: policy.maxAgeSec,
            requiredClaims: ['iat'],
            currentDate: new Date(now),
        });
        claims = r.payload as Record<string, unknown>;
    } catch (e) {
        return { ok: false, reason: reasonOf(e) };
    }
    if (claims.nonce !== attestation.nonce) {
        return { ok: false, reason: 'nonce-mismatch' };
    }
    if (policy.channelId !== undefined && String(claims[policy.channelClaim] ?? '') !== policy.channelId) {
        return { ok: false, reason: 'channel' };
    }
    return { ok: true };
}

const CHECK_TOKEN_HEADER = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'relay-check+jwt' })).toString('base64url');

/** Keyed hashes and check tokens, all derived from the relay secret. */
export class Keys {
    private readonly hashKey: Buffer;
    private readonly tokenRaw: Buffer;
    /** Imported once for jose's verification (jose verifies with a CryptoKey several times faster than with raw bytes). */
    private readonly tokenKey: Promise<webcrypto.CryptoKey>;

    constructor(
        secret: string,
        private readonly checkTokenTtlSec: number,
    ) {
        this.hashKey = createHmac('sha256', secret).update('relay-hash-v1').digest();
        this.tokenRaw = createHmac('sha256', secret).update('relay-check-token-v1').digest();
        this.tokenKey = webcrypto.subtle.importKey('raw', this.tokenRaw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']) as Promise<webcrypto.CryptoKey>;
    }

    private hash(kind: string, value: string, length: number): string {
        return createHmac('sha256', this.hashKey).update(`${kind}\u0000${value}`).digest('base64url').slice(0, length);
    }

    /** The owner of a purchase: a keyed hash of the normalised email (never the email itself). */
    owner(email: string): string {
        return this.hash('owner', email.trim().toLowerCase(), 43);
    }

    /** Log reference of a purchase (support computes it from the purchaseId with `npm run relay:ref`). */
    purchaseRef(store: string, transactionId: string): string {
        return `p_${this.hash('purchase', `${store}:${transactionId}`, 16)}`;
    }

    /** Log reference of an owner (never the email). */
    ownerRef(owner: string): string {
        return `o_${owner.slice(0, 12)}`;
    }

    /**
     * A compact HS256 JWT `{o, own, iat, exp}` with header `typ: relay-check+jwt`, verified by jose in
     * verifyCheckToken. Signed here with one synchronous HMAC: jose signs through WebCrypto, an
     * asynchronous thread-pool job per token that cost a fifth of a millisecond per accepted receipt.
     */
    async checkToken(owner: string, offerId: string, now = Date.now()): Promise<string> {
        const iat = Math.floor(now / 1000);
        const payload = Buffer.from(JSON.stringify({ o: offerId, own: owner, iat, exp: iat + this.checkTokenTtlSec })).toString('base64url');
        const signingInput = `${CHECK_TOKEN_HEADER}.${payload}`;
        return `${signingInput}.${createHmac('sha256', this.tokenRaw).update(signingInput).digest('base64url')}`;
    }

    /** True when `token` is a check token this relay (or one sharing its secret) issued for (owner, offer). */
    async verifyCheckToken(token: string, owner: string, offerId: string): Promise<boolean> {
        try {
            const { payload } = await jwtVerify(token, await this.tokenKey, { algorithms: ['HS256'], typ: 'relay-check+jwt' });
            return payload.o === offerId && payload.own === owner;
        } catch {
            return false;
        }
    }
}
