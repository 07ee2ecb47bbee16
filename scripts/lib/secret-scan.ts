/**
 * Find configured secrets inside build outputs (or any files): the raw value, its base64 forms
 * (standard and URL-safe, at every byte alignment, so a secret embedded in a larger base64 blob is
 * found too) and its URI-encoded forms. Secrets shorter than 8 characters are ignored.
 */

export interface SecretSpec {
    label: string;
    value: string;
}

export interface ScanFile {
    name: string;
    data: Buffer;
}

export type SecretForm = 'raw' | 'base64' | 'base64url' | 'uri';

export interface SecretFinding {
    label: string;
    file: string;
    /** Which encoding of the secret was found. */
    form: SecretForm;
}

export const MIN_SECRET_LENGTH = 8;

/** Environment variables that hold secrets the channel package must never contain. */
export const SECRET_ENV_VARS = [
    'CLEENG_PUBLISHER_TOKEN',
    'ROKU_PASSWORD',
    'ROKU_DEV_PASSWORD',
    'ROKU_SIGNING_PASSWORD',
    'ROKU_PARTNER_API_KEY',
    'ROKU_API_KEY',
] as const;

/** The configured (non-empty) secrets among SECRET_ENV_VARS. */
export function collectSecretsFromEnv(env: Record<string, string | undefined> = process.env): SecretSpec[] {
    const out: SecretSpec[] = [];
    for (const name of SECRET_ENV_VARS) {
        const v = env[name];
        if (typeof v === 'string' && v.trim() !== '') {
            out.push({ label: name, value: v });
        }
    }
    return out;
}

/**
 * Base64 text that any encoding of `secret` must contain, whatever bytes precede it: for each of
 * the 3 alignments, the characters whose 6 bits come only from the secret's bytes.
 */
function base64Fragments(secret: Buffer, urlSafe: boolean): string[] {
    const out = new Set<string>();
    for (let k = 0; k < 3; k++) {
        const buf = Buffer.concat([Buffer.alloc(k), secret]);
        const text = buf.toString(urlSafe ? 'base64url' : 'base64');
        const start = Math.ceil((8 * k) / 6);
        const end = Math.floor((8 * (k + secret.length)) / 6);
        const frag = text.slice(start, end);
        if (frag.length >= MIN_SECRET_LENGTH) {
            out.add(frag);
        }
    }
    return [...out];
}

function uriForms(value: string): string[] {
    const forms = new Set<string>();
    const component = encodeURIComponent(value);
    // RFC 3986 strict: also escape !'()*
    const strict = component.replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
    for (const base of [component, strict, encodeURI(value)]) {
        for (const cased of [base, base.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase())]) {
            forms.add(cased);
            forms.add(cased.replace(/%20/g, '+')); // form encoding
        }
    }
    forms.delete(value);
    return [...forms];
}

interface Needle {
    label: string;
    form: SecretForm;
    bytes: Buffer;
}

function needlesFor(secrets: SecretSpec[]): Needle[] {
    const needles: Needle[] = [];
    for (const s of secrets) {
        if (typeof s.value !== 'string' || s.value.length < MIN_SECRET_LENGTH) {
            continue;
        }
        const raw = Buffer.from(s.value, 'utf8');
        needles.push({ label: s.label, form: 'raw', bytes: raw });
        for (const f of base64Fragments(raw, false)) {
            needles.push({ label: s.label, form: 'base64', bytes: Buffer.from(f, 'latin1') });
        }
        for (const f of base64Fragments(raw, true)) {
            needles.push({ label: s.label, form: 'base64url', bytes: Buffer.from(f, 'latin1') });
        }
        for (const f of uriForms(s.value)) {
            needles.push({ label: s.label, form: 'uri', bytes: Buffer.from(f, 'utf8') });
        }
    }
    return needles;
}

/**
 * Every (secret, file) pair where the file holds the secret in any form. One finding per pair
 * (the first form found, raw preferred).
 */
export function scanForSecrets(files: ScanFile[], secrets: SecretSpec[]): SecretFinding[] {
    const needles = needlesFor(secrets);
    const findings: SecretFinding[] = [];
    for (const file of files) {
        const seen = new Set<string>();
        for (const n of needles) {
            if (seen.has(n.label)) {
                continue;
            }
            if (file.data.indexOf(n.bytes) !== -1) {
                seen.add(n.label);
                findings.push({ label: n.label, file: file.name, form: n.form });
            }
        }
    }
    return findings;
}
