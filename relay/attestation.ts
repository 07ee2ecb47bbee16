/**
 * Device proof for receipts: a compact JWS (RS256 or ES256) signed by the device attestation key
 * whose certificate (or public key) the relay is configured with, bound to a single-use nonce the
 * relay issued. Verification uses node:crypto only.
 */
import { createPublicKey, KeyObject, randomBytes, verify as cryptoVerify, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { BoundedTtlMap } from './limits';

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
        return {
            key: cert.publicKey,
            validFrom: Date.parse(cert.validFrom),
            validTo: Date.parse(cert.validTo),
        };
    }
    return { key: createPublicKey(pem) };
}

/** Single-use nonces with a short lifetime. */
export class NonceStore {
    private readonly nonces: BoundedTtlMap<string, true>;

    constructor(
        readonly ttlMs: number,
        maxEntries = 100_000,
    ) {
        this.nonces = new BoundedTtlMap(maxEntries, ttlMs);
    }

    issue(now = Date.now()): { nonce: string; expiresAt: number } {
        const nonce = randomBytes(18).toString('base64url');
        this.nonces.set(nonce, true, now);
        return { nonce, expiresAt: now + this.ttlMs };
    }

    /** True once for a nonce this store issued and that has not expired; false afterwards. */
    consume(nonce: string, now = Date.now()): boolean {
        return this.nonces.take(nonce, now) === true;
    }

    sweep(now = Date.now()): void {
        this.nonces.sweep(now);
    }
}

export interface AttestationPolicy {
    key: AttestationKey;
    nonces: NonceStore;
    /** When set, the channel claim must equal it. */
    channelId?: string;
    /** Name of the claim carrying the channel ID. */
    channelClaim: string;
    /** Allowed clock skew in seconds for iat / exp / nbf. */
    skewSec: number;
    /** Tokens issued longer ago than this are refused, even without `exp`. */
    maxAgeSec: number;
}

export type AttestationResult = { ok: true } | { ok: false; reason: string };

function b64urlJson(part: string): Record<string, unknown> | undefined {
    try {
        const v: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
        return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
    } catch {
        return undefined;
    }
}

const B64URL = /^[A-Za-z0-9_-]+$/;

/** Check the signature of a compact JWS against the key; the algorithm must match the key type. */
export function verifyJwsSignature(token: string, key: KeyObject): { ok: true; header: Record<string, unknown>; payload: Record<string, unknown> } | { ok: false; reason: string } {
    const parts = token.split('.');
    if (parts.length !== 3 || !parts.every((p) => B64URL.test(p))) {
        return { ok: false, reason: 'malformed' };
    }
    const header = b64urlJson(parts[0]!);
    const payload = b64urlJson(parts[1]!);
    if (!header || !payload) {
        return { ok: false, reason: 'malformed' };
    }
    const alg = header.alg;
    const signed = Buffer.from(`${parts[0]}.${parts[1]}`, 'ascii');
    const sig = Buffer.from(parts[2]!, 'base64url');
    let good = false;
    try {
        if (alg === 'RS256' && key.asymmetricKeyType === 'rsa') {
            good = cryptoVerify('sha256', signed, key, sig);
        } else if (
            alg === 'ES256' &&
            key.asymmetricKeyType === 'ec' &&
            key.asymmetricKeyDetails?.namedCurve === 'prime256v1' &&
            sig.length === 64
        ) {
            good = cryptoVerify('sha256', signed, { key, dsaEncoding: 'ieee-p1363' }, sig);
        } else {
            return { ok: false, reason: 'algorithm' };
        }
    } catch {
        return { ok: false, reason: 'signature' };
    }
    return good ? { ok: true, header, payload } : { ok: false, reason: 'signature' };
}

/**
 * Verify a receipt's device proof: the nonce was issued here and is used now (single use, even
 * when the rest fails), the signature is good, the `nonce` claim equals it, the channel claim
 * matches, and the token is fresh.
 */
export function verifyAttestation(
    attestation: { token: string; nonce: string } | undefined,
    policy: AttestationPolicy,
    now = Date.now(),
): AttestationResult {
    if (!attestation) {
        return { ok: false, reason: 'missing' };
    }
    const nonceKnown = policy.nonces.consume(attestation.nonce, now);
    if (!nonceKnown) {
        return { ok: false, reason: 'nonce-unknown' };
    }
    if (policy.key.validFrom !== undefined && now < policy.key.validFrom - policy.skewSec * 1000) {
        return { ok: false, reason: 'cert-not-yet-valid' };
    }
    if (policy.key.validTo !== undefined && now > policy.key.validTo + policy.skewSec * 1000) {
        return { ok: false, reason: 'cert-expired' };
    }
    const sig = verifyJwsSignature(attestation.token, policy.key.key);
    if (!sig.ok) {
        return sig;
    }
    const claims = sig.payload;
    if (claims.nonce !== attestation.nonce) {
        return { ok: false, reason: 'nonce-mismatch' };
    }
    if (policy.channelId !== undefined && String(claims[policy.channelClaim] ?? '') !== policy.channelId) {
        return { ok: false, reason: 'channel' };
    }
    const nowSec = now / 1000;
    const iat = claims.iat;
    if (typeof iat !== 'number' || !Number.isFinite(iat)) {
        return { ok: false, reason: 'iat-missing' };
    }
    if (iat > nowSec + policy.skewSec) {
        return { ok: false, reason: 'iat-future' };
    }
    if (nowSec - iat > policy.maxAgeSec + policy.skewSec) {
        return { ok: false, reason: 'too-old' };
    }
    if (claims.exp !== undefined) {
        if (typeof claims.exp !== 'number' || nowSec > claims.exp + policy.skewSec) {
            return { ok: false, reason: 'expired' };
        }
    }
    if (claims.nbf !== undefined) {
        if (typeof claims.nbf !== 'number' || nowSec + policy.skewSec < claims.nbf) {
            return { ok: false, reason: 'not-yet-valid' };
        }
    }
    return { ok: true };
}
