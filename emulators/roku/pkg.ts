/**
 * The fake Roku's signed package format.
 *
 * A real .pkg is encrypted and signed with the device's developer key; tooling only needs to
 * download it and tell a good one from a bad one. Here a package is the channel zip followed by a
 * signature block:
 *
 *   <zip bytes> <trailer JSON, UTF-8> <trailer length: uint32 big-endian> "FRKUPKG1"
 *
 * The trailer holds the app name, the developer id, the package time, the zip's SHA-256 and an
 * HMAC-SHA256 keyed with the signing password over all of those. Verifying with the right signing
 * password succeeds; any other password, or any changed byte, fails.
 */
import { createHash, createHmac, timingSafeEqual } from 'crypto';

export const PKG_MAGIC = 'FRKUPKG1';
export const PKG_FORMAT = 'fake-roku-pkg/1';

export interface PkgTrailer {
    format: string;
    appName: string;
    devId: string;
    pkgTime: string;
    zipSha256: string;
    alg: 'HMAC-SHA256';
    signature: string;
}

export interface ReadPkg {
    zip: Buffer;
    trailer: PkgTrailer;
}

/** The developer id a device keyed with this signing password reports (40 hex chars, like a real one). */
export function devIdFor(signingPassword: string): string {
    return createHash('sha1').update('fake-roku developer key\0' + signingPassword).digest('hex');
}

function signatureOf(signingPassword: string, zip: Buffer, t: Omit<PkgTrailer, 'signature' | 'alg' | 'format'>): string {
    const h = createHmac('sha256', signingPassword);
    h.update(zip);
    for (const part of [t.appName, t.devId, t.pkgTime, t.zipSha256]) {
        h.update('\0');
        h.update(part, 'utf8');
    }
    return h.digest('hex');
}

export function signPackage(zip: Buffer, opts: { signingPassword: string; appName: string; pkgTime: string }): Buffer {
    const base = {
        appName: opts.appName,
        devId: devIdFor(opts.signingPassword),
        pkgTime: opts.pkgTime,
        zipSha256: createHash('sha256').update(zip).digest('hex')
    };
    const trailer: PkgTrailer = { format: PKG_FORMAT, ...base, alg: 'HMAC-SHA256', signature: signatureOf(opts.signingPassword, zip, base) };
    const json = Buffer.from(JSON.stringify(trailer), 'utf8');
    const len = Buffer.alloc(4);
    len.writeUInt32BE(json.length);
    return Buffer.concat([zip, json, len, Buffer.from(PKG_MAGIC, 'ascii')]);
}

/** Splits a package into zip and trailer; throws when it is not a fake-roku package. */
export function readPackage(pkg: Buffer): ReadPkg {
    const magicLen = PKG_MAGIC.length;
    if (pkg.length < magicLen + 4 || pkg.subarray(pkg.length - magicLen).toString('ascii') !== PKG_MAGIC) {
        throw new Error('not a signed package (no signature block)');
    }
    const len = pkg.readUInt32BE(pkg.length - magicLen - 4);
    const start = pkg.length - magicLen - 4 - len;
    if (start < 0) {
        throw new Error('corrupt signature block');
    }
    let trailer: PkgTrailer;
    try {
        trailer = JSON.parse(pkg.subarray(start, start + len).toString('utf8')) as PkgTrailer;
    } catch {
        throw new Error('corrupt signature block');
    }
    if (trailer.format !== PKG_FORMAT) {
        throw new Error(`unknown package format ${String(trailer.format)}`);
    }
    return { zip: pkg.subarray(0, start), trailer };
}

export interface VerifyResult {
    ok: boolean;
    reason?: string;
    trailer?: PkgTrailer;
    zip?: Buffer;
}

/** Checks a package against a signing password. */
export function verifyPackage(pkg: Buffer, signingPassword: string): VerifyResult {
    let read: ReadPkg;
    try {
        read = readPackage(pkg);
    } catch (err) {
        return { ok: false, reason: (err as Error).message };
    }
    const { zip, trailer } = read;
    if (createHash('sha256').update(zip).digest('hex') !== trailer.zipSha256) {
        return { ok: false, reason: 'the zip inside the package was modified', trailer };
    }
    if (trailer.devId !== devIdFor(signingPassword)) {
        return { ok: false, reason: 'signed with a different developer key', trailer };
    }
    const expected = Buffer.from(signatureOf(signingPassword, zip, trailer), 'hex');
    const given = Buffer.from(trailer.signature ?? '', 'hex');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        return { ok: false, reason: 'bad signature', trailer };
    }
    return { ok: true, trailer, zip };
}
