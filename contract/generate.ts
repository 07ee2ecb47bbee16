/**
 * Generates each side's copy of the contract from the JSON Schemas and lists in contract/:
 *
 *   contract/generated/schemas.ts       every schema as a TypeScript constant (for ajv or fastify)
 *   contract/generated/types.ts         TypeScript types (json-schema-to-typescript)
 *   contract/generated/rules.ts         patterns, limits and the relay error list as constants
 *   contract/generated/examples.ts      the example bodies (EXAMPLES, goldenReceiptRequest)
 *   contract/generated/index.ts         the public entry: the above plus the validators (contract/validators.ts)
 *   source/generated/Contract.bs        the channel's `namespace contract` (constants, checks, interfaces)
 *   test/source/generated/ContractExamples.bs   the example bodies for Rooibos specs (test builds only)
 *
 * Generated files are not in git. `npm ci` (postinstall), `npm run build`, `npm test` and the npm
 * scripts that import the contract (typecheck, relay, start, bench, …) run this.
 * Usage: ts-node contract/generate.ts [--force | --check]
 *   (no flag: generate when a contract file is newer than its output; --force: always;
 *    --check: fail if a generated file is out of date)
 */
import * as fs from 'fs';
import * as path from 'path';

export const contractDir = __dirname;
const repoRoot = path.resolve(contractDir, '..');

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Schema = { [key: string]: Json };

/** A schema file of the contract, under the name the generated code knows it by. */
interface SchemaFile {
    /** Exported name stem: `receiptRequest` -> RECEIPT_REQUEST_SCHEMA, validateReceiptRequest. */
    name: string;
    file: string;
}

/** Every schema, dependencies first (the order fastify's addSchema wants). */
export const SCHEMA_FILES: SchemaFile[] = [
    { name: 'common', file: 'common.schema.json' },
    { name: 'receiptRequest', file: 'relay/receipt-request.schema.json' },
    { name: 'receiptAccepted', file: 'relay/receipt-accepted.schema.json' },
    { name: 'entitlementCheckRequest', file: 'relay/entitlement-check-request.schema.json' },
    { name: 'entitlementCheckAnswer', file: 'relay/entitlement-check-answer.schema.json' },
    { name: 'nonceAnswer', file: 'relay/nonce-answer.schema.json' },
    { name: 'healthAnswer', file: 'relay/health-answer.schema.json' },
    { name: 'errorBody', file: 'relay/error-body.schema.json' },
    { name: 'channelConfig', file: 'channel-config.schema.json' }
];

export interface RelayErrorSpec {
    status: number;
    class: 'final' | 'retry' | 'configuration';
    message: string;
    when: string;
    proof?: boolean;
    retryAfter?: boolean;
}

export interface RelayErrorList {
    unknownClass: 'retry';
    codes: Record<string, RelayErrorSpec>;
}

export function readJson<T = Schema>(rel: string): T {
    return JSON.parse(fs.readFileSync(path.join(contractDir, rel), 'utf8')) as T;
}

export function loadSchemas(): Map<string, { name: string; file: string; schema: Schema }> {
    const out = new Map<string, { name: string; file: string; schema: Schema }>();
    for (const f of SCHEMA_FILES) {
        const schema = readJson(f.file);
        out.set(String(schema.$id), { ...f, schema });
    }
    return out;
}

function pointer(root: Json, fragment: string): Json {
    let node: Json = root;
    for (const raw of fragment.replace(/^\//, '').split('/').filter(Boolean)) {
        const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
        if (node === null || typeof node !== 'object' || !(key in node)) {
            throw new Error(`unresolvable JSON pointer #${fragment}`);
        }
        node = (node as { [k: string]: Json })[key]!;
    }
    return node;
}

/**
 * The schema with every `$ref` replaced by its target. One target is one shared object, so
 * json-schema-to-typescript declares a referenced type once.
 */
export function dereference(schemas: ReturnType<typeof loadSchemas>): Map<string, Schema> {
    const cache = new Map<string, Json>();
    const walk = (node: Json, base: string): Json => {
        if (Array.isArray(node)) {
            return node.map((n) => walk(n, base));
        }
        if (node === null || typeof node !== 'object') {
            return node;
        }
        if (typeof node.$ref === 'string') {
            const url = new URL(node.$ref, base);
            const key = url.href;
            const cached = cache.get(key);
            if (cached !== undefined) {
                return cached;
            }
            const doc = schemas.get(url.href.split('#')[0]!);
            if (!doc) {
                throw new Error(`$ref to an unknown schema: ${node.$ref} (from ${base})`);
            }
            const target = pointer(doc.schema, decodeURIComponent(url.hash.replace(/^#/, '')));
            const resolved: { [k: string]: Json } = {};
            cache.set(key, resolved);
            Object.assign(resolved, walk(target, String(doc.schema.$id)) as object);
            return resolved;
        }
        const out: { [k: string]: Json } = {};
        for (const [k, v] of Object.entries(node)) {
            if (k === '$defs' || k === '$id' || k === '$schema') {
                continue;
            }
            out[k] = walk(v, base);
        }
        return out;
    };
    const result = new Map<string, Schema>();
    for (const [id, doc] of schemas) {
        result.set(doc.name, walk(doc.schema, id) as Schema);
    }
    return result;
}

// ---------------------------------------------------------------------------------------------
// TypeScript
// ---------------------------------------------------------------------------------------------

const TS_HEADER = (what: string): string => `/* Generated by contract/generate.ts from contract/*.json: do not edit. ${what} */\n`;

function constName(name: string): string {
    return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

function pascal(name: string): string {
    return name[0]!.toUpperCase() + name.slice(1);
}

function schemasTs(schemas: ReturnType<typeof loadSchemas>): string {
    let out = TS_HEADER('The schemas as constants (ids and $refs kept, for ajv or fastify).');
    const list: string[] = [];
    for (const doc of schemas.values()) {
        const c = `${constName(doc.name)}_SCHEMA`;
        list.push(c);
        out += `\n/** contract/${doc.file} */\nexport const ${c} = ${JSON.stringify(doc.schema, null, 4)} as const;\n`;
    }
    out += `\n/** Every schema, dependencies first: \`for (const s of SCHEMA_LIST) ajv.addSchema(s)\` (or fastify.addSchema). */\n`;
    out += `export const SCHEMA_LIST = [${list.join(', ')}] as const;\n`;
    return out;
}

/** A copy for json-schema-to-typescript: `anyOf` branches that only add a format are dropped (same TS type). */
function forTypes(node: Json, seen = new Map<object, Json>()): Json {
    if (node === null || typeof node !== 'object') {
        return node;
    }
    const done = seen.get(node);
    if (done !== undefined) {
        return done;
    }
    if (Array.isArray(node)) {
        const arr: Json[] = [];
        seen.set(node, arr);
        node.forEach((n) => arr.push(forTypes(n, seen)));
        return arr;
    }
    const out: { [k: string]: Json } = {};
    seen.set(node, out);
    for (const [k, v] of Object.entries(node)) {
        const formatOnly = k === 'anyOf' && Array.isArray(v) && v.every((b) => b !== null && typeof b === 'object' && !Array.isArray(b) && Object.keys(b).every((bk) => bk === 'format' || (bk === 'type' && b.type === node.type)));
        if (!formatOnly) {
            out[k] = forTypes(v, seen);
        }
    }
    return out;
}

async function typesTs(deref: Map<string, Schema>): Promise<string> {
    const properties: { [k: string]: Json } = {};
    const seen = new Map<object, Json>();
    for (const [name, schema] of deref) {
        if (name !== 'common') {
            properties[name] = forTypes(schema, seen);
        }
    }
    const root: Schema = { title: 'ContractRoot', type: 'object', properties, additionalProperties: false };
    // Loaded here so that ensureGenerated's up-to-date check stays cheap.
    const { compile } = await import('json-schema-to-typescript');
    const ts = await compile(root as never, 'ContractRoot', {
        bannerComment: '',
        additionalProperties: false,
        strictIndexSignatures: false,
        format: true,
        unknownAny: true
    });
    return TS_HEADER('TypeScript types of every contract record.') + '\n' + ts.replace(/export interface ContractRoot \{[\s\S]*?\n\}\n/, '');
}

function rulesTs(common: Schema, errors: RelayErrorList): string {
    const defs = common.$defs as { [k: string]: Schema };
    const email = defs.email!;
    const offer = defs.offerId!;
    const code = defs.rokuProductCode!;
    const pid = defs.purchaseId!;
    const qty = defs.qty!;
    const att = (defs.attestation!.properties as { [k: string]: Schema });
    const codes = Object.keys(errors.codes);
    let out = TS_HEADER('Patterns, limits and the relay error list.');
    out += `
/** contract/common.schema.json#/$defs/email: the one email rule (JavaScript RegExp and Roku roRegex agree on it). */
export const EMAIL_PATTERN = new RegExp(${JSON.stringify(email.pattern)});
/** Longest email, in Unicode code points (as JSON Schema's maxLength counts). */
export const MAX_EMAIL_LENGTH = ${Number(email.maxLength)};
/** contract/common.schema.json#/$defs/offerId */
export const OFFER_ID_PATTERN = new RegExp(${JSON.stringify(offer.pattern)});
/** contract/common.schema.json#/$defs/rokuProductCode: an offer ID with '_' replaced by '-'. */
export const ROKU_PRODUCT_CODE_PATTERN = new RegExp(${JSON.stringify(code.pattern)});
export const PURCHASE_ID_PATTERN = new RegExp(${JSON.stringify(pid.pattern)});
export const MAX_PURCHASE_ID_LENGTH = ${Number(pid.maxLength)};
export const MIN_QTY = ${Number(qty.minimum)};
export const MAX_QTY = ${Number(qty.maximum)};
export const MAX_ATTESTATION_TOKEN_LENGTH = ${Number(att.token!.maxLength)};
export const MAX_NONCE_LENGTH = ${Number(att.nonce!.maxLength)};

/** Number of Unicode code points in \`s\` (how the contract counts lengths). */
export function codePointLength(s: string): number {
    let n = 0;
    for (const _ of s) {
        n++;
    }
    return n;
}

/** True for an email the contract accepts: the pattern and at most MAX_EMAIL_LENGTH code points. */
export function isValidEmail(value: unknown): value is string {
    return typeof value === 'string' && codePointLength(value) <= MAX_EMAIL_LENGTH && EMAIL_PATTERN.test(value);
}

/** True for a Cleeng offer ID (S123123123_US). */
export function isOfferId(value: unknown): value is string {
    return typeof value === 'string' && OFFER_ID_PATTERN.test(value);
}

/** The Roku product code of an offer: '_' replaced by '-' (S123123123_US -> S123123123-US). */
export function offerIdToRokuProductCode(offerId: string): string {
    return offerId.replace(/_/g, '-');
}

/** The Cleeng offer ID of a default-mapped Roku product code, or undefined. */
export function rokuProductCodeToOfferId(code: string): string | undefined {
    const offerId = code.replace(/-/g, '_');
    return isOfferId(offerId) ? offerId : undefined;
}

/** How the channel treats a relay error (contract/relay/errors.json). */
export type ErrorClass = 'final' | 'retry' | 'configuration';

/** Every relay error code. */
export type RelayErrorCode = ${codes.map((c) => `'${c}'`).join(' | ')};

export interface RelayErrorInfo {
    status: number;
    class: ErrorClass;
    /** Generic, client-safe message. */
    message: string;
    /** When the relay answers with it. */
    when: string;
    /** Get a fresh device proof and retry. */
    proof: boolean;
    /** The answer carries Retry-After. */
    retryAfter: boolean;
}

export const RELAY_ERROR_CODES: readonly RelayErrorCode[] = ${JSON.stringify(codes)};

/** contract/relay/errors.json */
export const RELAY_ERRORS: Readonly<Record<RelayErrorCode, RelayErrorInfo>> = {
${codes
    .map((c) => {
        const e = errors.codes[c]!;
        const info = { status: e.status, class: e.class, message: e.message, when: e.when, proof: e.proof === true, retryAfter: e.retryAfter === true };
        return `    ${c}: ${JSON.stringify(info)},`;
    })
    .join('\n')}
};

/** Client-safe message per code (what the relay puts in error.message). */
export const RELAY_ERROR_MESSAGES: Readonly<Record<RelayErrorCode, string>> = {
${codes.map((c) => `    ${c}: ${JSON.stringify(errors.codes[c]!.message)},`).join('\n')}
};

/** The class for a code; a code the contract does not know is '${errors.unknownClass}'. */
export function errorClass(code: string): ErrorClass {
    return isRelayErrorCode(code) ? RELAY_ERRORS[code].class : '${errors.unknownClass}';
}

export function isRelayErrorCode(code: unknown): code is RelayErrorCode {
    return typeof code === 'string' && Object.prototype.hasOwnProperty.call(RELAY_ERRORS, code);
}
`;
    return out;
}

function indexTs(): string {
    return (
        TS_HEADER('The public entry of the contract.') +
        `/**
 * import { EMAIL_PATTERN, isValidEmail, validateReceiptRequest, RELAY_ERRORS, type ReceiptRequest } from '../contract/generated';
 *
 * Stable names (other code depends on them; add, do not rename):
 *   rules.ts       EMAIL_PATTERN MAX_EMAIL_LENGTH OFFER_ID_PATTERN ROKU_PRODUCT_CODE_PATTERN PURCHASE_ID_PATTERN
 *                  MAX_PURCHASE_ID_LENGTH MIN_QTY MAX_QTY MAX_ATTESTATION_TOKEN_LENGTH MAX_NONCE_LENGTH
 *                  codePointLength isValidEmail isOfferId offerIdToRokuProductCode rokuProductCodeToOfferId
 *                  ErrorClass RelayErrorCode RelayErrorInfo RELAY_ERROR_CODES RELAY_ERRORS RELAY_ERROR_MESSAGES
 *                  errorClass isRelayErrorCode
 *   types.ts       ReceiptRequest ReceiptOrder ReceiptAccepted EntitlementCheckRequest EntitlementCheckAnswer
 *                  NonceAnswer HealthAnswer ErrorBody ErrorDetail ChannelConfig ChannelCleengConfig
 *                  ChannelOffersConfig Attestation Email OfferId RokuProductCode PurchaseId CheckToken …
 *   schemas.ts     <NAME>_SCHEMA for every schema (COMMON_SCHEMA, RECEIPT_REQUEST_SCHEMA, …) and SCHEMA_LIST
 *   examples.ts    EXAMPLES (every contract/examples file by name) goldenReceiptRequest()
 *   validators.ts  Validation<T> createAjv validateReceiptRequest validateReceiptAccepted
 *                  validateEntitlementCheckRequest validateEntitlementCheckAnswer validateNonceAnswer
 *                  validateHealthAnswer validateErrorBody validateChannelConfig schemaValidator fieldsFromErrors
 */
export * from './rules';
export * from './types';
export * from './schemas';
export * from './examples';
export * from '../validators';
`
    );
}

// ---------------------------------------------------------------------------------------------
// BrightScript
// ---------------------------------------------------------------------------------------------

const BS_HEADER = "' Generated by contract/generate.ts from contract/*.json: do not edit (npm run contract).\n";

/** A BrightScript string literal. */
function bsString(s: string): string {
    if (/[\x00-\x1f\x7f]/.test(s)) {
        throw new Error(`cannot write a control character in a BrightScript literal: ${JSON.stringify(s)}`);
    }
    return `"${s.replace(/"/g, '""')}"`;
}

function bsConst(name: string): string {
    return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/[^A-Za-z0-9]+/g, '_').toUpperCase();
}

const INT32_MAX = 2147483647;

/** The BrighterScript type of a (dereferenced) schema. `named` maps schema objects to interface names. */
function bsType(s: Schema, named: Map<Schema, string>): string {
    const n = named.get(s);
    if (n) {
        return `contract.${n}`;
    }
    const t = s.type;
    if (Array.isArray(t)) {
        return 'dynamic';
    }
    if (s.const !== undefined) {
        return typeof s.const === 'boolean' ? 'boolean' : typeof s.const === 'string' ? 'string' : 'dynamic';
    }
    if (Array.isArray(s.enum)) {
        return s.enum.every((v) => typeof v === 'string') ? 'string' : 'dynamic';
    }
    switch (t) {
        case 'string':
            return 'string';
        case 'boolean':
            return 'boolean';
        case 'number':
            return 'float';
        case 'integer':
            // ParseJson gives LongInteger for values past 32 bits: only bounded integers are `integer`.
            return typeof s.maximum === 'number' && s.maximum <= INT32_MAX && typeof s.minimum === 'number' && s.minimum >= -INT32_MAX ? 'integer' : 'dynamic';
        case 'object':
        case 'array':
            return 'object';
    }
    return 'dynamic';
}

function bsComment(text: string, indent: string): string {
    const words = text.split(/\s+/);
    const lines: string[] = [];
    let line = '';
    for (const w of words) {
        if (line && line.length + w.length + 1 > 96) {
            lines.push(line);
            line = w;
        } else {
            line = line ? `${line} ${w}` : w;
        }
    }
    if (line) {
        lines.push(line);
    }
    return lines.map((l) => `${indent}' ${l}\n`).join('');
}

function bsInterfaces(deref: Map<string, Schema>): string {
    // Name every titled object schema reachable from the records.
    const named = new Map<Schema, string>();
    const order: Schema[] = [];
    const visit = (s: Json): void => {
        if (s === null || typeof s !== 'object' || Array.isArray(s)) {
            return;
        }
        const schema = s as Schema;
        if (schema.type === 'object' && typeof schema.title === 'string' && schema.properties && !named.has(schema)) {
            named.set(schema, schema.title);
            order.push(schema);
        }
        if (schema.properties && typeof schema.properties === 'object') {
            Object.values(schema.properties as { [k: string]: Json }).forEach(visit);
        }
    };
    for (const [name, schema] of deref) {
        if (name !== 'common') {
            visit(schema);
        }
    }
    let out = '';
    for (const schema of order) {
        const required = new Set((schema.required as string[] | undefined) ?? []);
        if (typeof schema.description === 'string') {
            out += bsComment(schema.description, '    ');
        }
        out += `    interface ${named.get(schema)}\n`;
        for (const [field, sub] of Object.entries(schema.properties as { [k: string]: Schema })) {
            if (typeof sub.description === 'string' && typeof sub.title !== 'string') {
                out += bsComment(sub.description, '        ');
            }
            out += `        ${required.has(field) ? '' : 'optional '}${field} as ${bsType(sub, named)}\n`;
        }
        out += '    end interface\n\n';
    }
    return out;
}

function bsConfigConstants(config: Schema): string {
    let out = '';
    const seen = new Set<string>();
    const walk = (s: Schema): void => {
        for (const [field, sub] of Object.entries((s.properties as { [k: string]: Schema } | undefined) ?? {})) {
            const base = `CONFIG_${bsConst(field)}`;
            const add = (name: string, value: Json): void => {
                if (seen.has(name)) {
                    throw new Error(`two config constants named contract.${name}`);
                }
                seen.add(name);
                const literal = typeof value === 'string' ? bsString(value) : typeof value === 'number' ? String(value) : undefined;
                if (literal !== undefined) {
                    out += `    const ${name} = ${literal}\n`;
                }
            };
            if (Array.isArray(sub.enum)) {
                for (const v of sub.enum) {
                    add(`${base}_${bsConst(String(v))}`, v);
                }
            }
            if (sub.default !== undefined && typeof sub.default !== 'object') {
                add(`${base}_DEFAULT`, sub.default);
            }
            if (typeof sub.minimum === 'number') {
                add(`${base}_MIN`, sub.minimum);
            }
            if (typeof sub.maximum === 'number') {
                add(`${base}_MAX`, sub.maximum);
            }
            if (sub.type === 'object' && sub.properties) {
                walk(sub);
            }
        }
    };
    walk(config);
    return out;
}

function contractBs(common: Schema, deref: Map<string, Schema>, errors: RelayErrorList): string {
    const defs = common.$defs as { [k: string]: Schema };
    const accepted = deref.get('receiptAccepted')!;
    const acceptedStatus = String((accepted.properties as { [k: string]: Schema }).status!.const);
    for (const f of ['status', 'purchaseId', 'requestId']) {
        if (!(accepted.required as string[]).includes(f)) {
            throw new Error(`isReceiptAccepted assumes ${f} is required in receipt-accepted.schema.json`);
        }
    }
    const codes = Object.entries(errors.codes);
    let out = BS_HEADER;
    out += `' The channel's copy of the contract (contract/ in the repo): the email and offer rules, the relay's
' error codes with their HTTP status and class, the channel config's fields and defaults, and the
' records that cross the network as interfaces. See docs/contract.md.
namespace contract

`;
    out += bsComment(String(defs.email!.description), '    ');
    out += `    const EMAIL_PATTERN = ${bsString(String(defs.email!.pattern))}\n`;
    out += `    ' Longest email in characters (Unicode code points).\n`;
    out += `    const EMAIL_MAX_LENGTH = ${Number(defs.email!.maxLength)}\n`;
    out += bsComment(String(defs.offerId!.description), '    ');
    out += `    const OFFER_ID_PATTERN = ${bsString(String(defs.offerId!.pattern))}\n`;
    out += `    const ROKU_PRODUCT_CODE_PATTERN = ${bsString(String(defs.rokuProductCode!.pattern))}\n`;
    out += `    const PURCHASE_ID_MAX_LENGTH = ${Number(defs.purchaseId!.maxLength)}\n`;
    out += `    const QTY_MIN = ${Number(defs.qty!.minimum)}\n`;
    out += `    const QTY_MAX = ${Number(defs.qty!.maximum)}\n\n`;
    out += `    ' How the channel treats a relay error (contract/relay/errors.json).\n`;
    out += `    const CLASS_FINAL = "final"\n    const CLASS_RETRY = "retry"\n    const CLASS_CONFIGURATION = "configuration"\n\n`;
    out += `    ' Relay error codes (error.code of an error body).\n`;
    for (const [code, e] of codes) {
        out += `    ' ${e.status}, ${e.class}${e.proof ? ', proof' : ''}: ${e.when}\n`;
        out += `    const ERROR_${code} = ${bsString(code)}\n`;
    }
    out += `\n    ' Channel config (pkg:/config/channel.json, contract/channel-config.schema.json).\n`;
    out += `    const CONFIG_PATH = "pkg:/config/channel.json"\n`;
    out += bsConfigConstants(deref.get('channelConfig')!);
    out += `
    ' True for an email the relay accepts: the contract's pattern and at most EMAIL_MAX_LENGTH characters.
    function isValidEmail(value as dynamic) as boolean
        if type(value) <> "String" and type(value) <> "roString"
            return false
        end if
        if Len(value) > contract.EMAIL_MAX_LENGTH and contract.textLength(value) > contract.EMAIL_MAX_LENGTH
            return false
        end if
        re = createObject("roRegex", contract.EMAIL_PATTERN, "")
        return re.isMatch(value)
    end function

    ' True for a Cleeng offer ID (S123123123_US).
    function isOfferId(value as dynamic) as boolean
        if type(value) <> "String" and type(value) <> "roString"
            return false
        end if
        re = createObject("roRegex", contract.OFFER_ID_PATTERN, "")
        return re.isMatch(value)
    end function

    ' Length in Unicode code points, as the contract counts. A Roku's Len counts characters; the
    ' simulator's counts UTF-16 units, so each low surrogate (only the simulator has them) is
    ' taken off. Exact on both.
    function textLength(text as string) as integer
        n = Len(text)
        for i = 1 to Len(text)
            c = Asc(Mid(text, i, 1))
            if c >= 56320 and c <= 57343
                n = n - 1
            end if
        end for
        return n
    end function

    ' The class of a relay error code: "final", "retry" or "configuration". A code the contract
    ' does not know is "${errors.unknownClass}".
    function errorClass(code as string) as string
        info = contract.errorInfo(code)
        if info = invalid
            return "${errors.unknownClass}"
        end if
        return info.class
    end function

    ' The HTTP status the relay answers a code with, or 0 for a code the contract does not know.
    function errorStatus(code as string) as integer
        info = contract.errorInfo(code)
        if info = invalid
            return 0
        end if
        return info.status
    end function

    ' True when the code means "get a fresh device proof and retry".
    function errorNeedsProof(code as string) as boolean
        info = contract.errorInfo(code)
        if info = invalid
            return false
        end if
        return info.proof
    end function

    ' True when a parsed answer is the relay's documented receipt success
    ' (contract/relay/receipt-accepted.schema.json) for this purchase: status "${acceptedStatus}", the same
    ' purchaseId, a requestId, and checkToken (when present) a string. Anything else is not an acceptance.
    function isReceiptAccepted(answer as dynamic, purchaseId as string) as boolean
        if type(answer) <> "roAssociativeArray" or purchaseId = ""
            return false
        end if
        if not contract.isText(answer["status"]) or answer["status"] <> "${acceptedStatus}"
            return false
        end if
        if not contract.isText(answer["purchaseId"]) or answer["purchaseId"] <> purchaseId
            return false
        end if
        if not contract.isText(answer["requestId"]) or answer["requestId"] = ""
            return false
        end if
        if answer.doesExist("checkToken") and not contract.isText(answer["checkToken"])
            return false
        end if
        return true
    end function

    ' True when a parsed answer has the shape of contract/relay/entitlement-check-answer.schema.json:
    ' accessGranted a boolean, expiresAt a number or null.
    function isEntitlementCheckAnswer(answer as dynamic) as boolean
        if type(answer) <> "roAssociativeArray" or not answer.doesExist("accessGranted") or not answer.doesExist("expiresAt")
            return false
        end if
        t = type(answer["accessGranted"])
        if t <> "Boolean" and t <> "roBoolean"
            return false
        end if
        e = type(answer["expiresAt"])
        return e = "Invalid" or e = "roInvalid" or e = "Integer" or e = "roInt" or e = "roInteger" or e = "LongInteger" or e = "roLongInteger" or e = "Float" or e = "roFloat" or e = "Double" or e = "roDouble"
    end function

    function isText(value as dynamic) as boolean
        return type(value) = "String" or type(value) = "roString"
    end function

    ' Every relay error code, in the contract's order.
    function errorCodes() as object
        return [${codes.map(([c]) => bsString(c)).join(', ')}]
    end function

    ' {status, class, proof} of a relay error code (case-sensitive), or invalid.
    function errorInfo(code as string) as dynamic
`;
    let first = true;
    for (const [code, e] of codes) {
        out += `        ${first ? 'if' : 'else if'} code = ${bsString(code)}\n`;
        out += `            return { status: ${e.status}, class: ${bsString(e.class)}, proof: ${e.proof === true} }\n`;
        first = false;
    }
    out += `        end if\n        return invalid\n    end function\n\n`;
    out += bsInterfaces(deref);
    out = out.replace(/\n\n$/, '\n');
    out += 'end namespace\n';
    return out;
}

/** Every example: [dir, file, functionName, typeName]. */
function exampleFiles(): { dir: string; file: string; name: string; type: string }[] {
    const root = path.join(contractDir, 'examples');
    const out: { dir: string; file: string; name: string; type: string }[] = [];
    for (const dir of fs.readdirSync(root).sort()) {
        for (const file of fs.readdirSync(path.join(root, dir)).sort()) {
            if (!file.endsWith('.json')) {
                continue;
            }
            const name = file
                .replace(/\.json$/, '')
                .split(/[.-]/)
                .map((p, i) => (i === 0 ? p : pascal(p)))
                .join('');
            const stem = file.split('.')[0]!;
            out.push({ dir, file, name, type: stem.split('-').map(pascal).join('') });
        }
    }
    return out;
}

function examplesTs(): string {
    let out = TS_HEADER('The example bodies of contract/examples/.');
    const names = exampleFiles().map((e) => e.type);
    out += `import type { ${[...new Set(names)].sort().join(', ')} } from './types';
`;
    out += `
/** Every example, by name: contract/examples/<dir>/<name>.json (receipt-request.attested.json -> receiptRequestAttested). */
export const EXAMPLES = {
`;
    for (const e of exampleFiles()) {
        const text = JSON.stringify(JSON.parse(fs.readFileSync(path.join(contractDir, 'examples', e.dir, e.file), 'utf8')));
        out += `    /** contract/examples/${e.dir}/${e.file} */
    ${e.name}: ${text} satisfies ${e.type},
`;
    }
    out += `} as const;

/** The golden receipt body (contract/examples/relay/receipt-request.json): a fresh copy each call. */
`;
    out += `export function goldenReceiptRequest(): ReceiptRequest {
    return JSON.parse(JSON.stringify(EXAMPLES.receiptRequest)) as ReceiptRequest;
}
`;
    return out;
}

function examplesBs(): string {
    let out = BS_HEADER;
    out += `' The contract's example bodies (contract/examples/), for Rooibos specs. Test builds only.
namespace contractExamples

`;
    for (const e of exampleFiles()) {
        const text = JSON.stringify(JSON.parse(fs.readFileSync(path.join(contractDir, 'examples', e.dir, e.file), 'utf8')));
        out += `    ' contract/examples/${e.dir}/${e.file}\n`;
        out += `    function ${e.name}() as object\n        return ParseJson(${bsString(text)})\n    end function\n\n`;
    }
    out = out.replace(/\n\n$/, '\n');
    return out + 'end namespace\n';
}

// ---------------------------------------------------------------------------------------------

export interface GeneratedFile {
    /** Path relative to the repo root. */
    path: string;
    text: string;
}

export async function generate(): Promise<GeneratedFile[]> {
    const schemas = loadSchemas();
    const deref = dereference(schemas);
    const common = readJson('common.schema.json');
    const errors = readJson<RelayErrorList>('relay/errors.json');
    const files = [
        { path: 'contract/generated/schemas.ts', text: schemasTs(schemas) },
        { path: 'contract/generated/types.ts', text: await typesTs(deref) },
        { path: 'contract/generated/rules.ts', text: rulesTs(common, errors) },
        { path: 'contract/generated/examples.ts', text: examplesTs() },
        { path: 'contract/generated/index.ts', text: indexTs() },
        { path: 'source/generated/Contract.bs', text: contractBs(common, deref, errors) },
        { path: 'test/source/generated/ContractExamples.bs', text: examplesBs() }
    ];
    if (files.map((f) => f.path).join() !== GENERATED_PATHS.join()) {
        throw new Error('GENERATED_PATHS is out of step with generate()');
    }
    return files;
}

/** Every generated path, relative to the repo root. */
export const GENERATED_PATHS = [
    'contract/generated/schemas.ts',
    'contract/generated/types.ts',
    'contract/generated/rules.ts',
    'contract/generated/examples.ts',
    'contract/generated/index.ts',
    'source/generated/Contract.bs',
    'test/source/generated/ContractExamples.bs'
];

/** Writes the generated files that changed (each atomically: parallel builds may read them); returns the paths written. */
export async function writeGenerated(root = repoRoot): Promise<string[]> {
    const written: string[] = [];
    for (const f of await generate()) {
        const file = path.join(root, f.path);
        if (fs.existsSync(file) && fs.readFileSync(file, 'utf8') === f.text) {
            continue;
        }
        fs.mkdirSync(path.dirname(file), { recursive: true });
        const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
        fs.writeFileSync(tmp, f.text);
        fs.renameSync(tmp, file);
        written.push(f.path);
    }
    return written;
}

function newestMtime(dir: string): number {
    let newest = 0;
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) {
            if (e.name !== 'generated') {
                newest = Math.max(newest, newestMtime(p));
            }
        } else if (e.name.endsWith('.json') || e.name === 'generate.ts') {
            newest = Math.max(newest, fs.statSync(p).mtimeMs);
        }
    }
    return newest;
}

/**
 * Generates when a generated file is missing or older than a contract file (cheap when up to
 * date: file times only). What `npm run build` and `npm test` call before compiling.
 */
export async function ensureGenerated(root = repoRoot): Promise<string[]> {
    const source = newestMtime(contractDir);
    const stale = GENERATED_PATHS.some((p) => {
        const file = path.join(root, p);
        return !fs.existsSync(file) || fs.statSync(file).mtimeMs < source;
    });
    if (!stale) {
        return [];
    }
    const written = await writeGenerated(root);
    // Unchanged outputs keep their old times: touch them so the next check is cheap.
    const now = new Date();
    for (const p of GENERATED_PATHS) {
        fs.utimesSync(path.join(root, p), now, now);
    }
    return written;
}

if (require.main === module) {
    const check = process.argv.includes('--check');
    (async () => {
        if (check) {
            const stale = [];
            for (const f of await generate()) {
                const file = path.join(repoRoot, f.path);
                if (!fs.existsSync(file) || fs.readFileSync(file, 'utf8') !== f.text) {
                    stale.push(f.path);
                }
            }
            if (stale.length > 0) {
                console.error(`out of date (run npm run contract): ${stale.join(', ')}`);
                process.exit(1);
            }
            console.log('contract: generated files are up to date');
            return;
        }
        const written = process.argv.includes('--force') ? await writeGenerated() : await ensureGenerated();
        if (written.length > 0 || process.argv.includes('--force')) {
            console.log(written.length > 0 ? `contract: wrote ${written.join(', ')}` : 'contract: generated files are up to date');
        }
    })().catch((err: unknown) => {
        console.error(`contract generation failed: ${(err as Error).message}`);
        process.exit(1);
    });
}
