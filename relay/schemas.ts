/**
 * JSON Schemas of the relay's request bodies and the ajv instance fastify validates them with.
 * Rules that JSON Schema cannot say (order.code = offerId with `_`→`-`, Android productId = offerId
 * in lower case) are checked in server.ts.
 */
import Ajv, { ErrorObject } from 'ajv';
import addFormats from 'ajv-formats';

/** Deliberately simple: one @, no spaces or control characters, a dot in the domain. */
export const EMAIL_PATTERN_SOURCE = '^[^\\s@\\u0000-\\u001f\\u007f]+@[^\\s@.\\u0000-\\u001f\\u007f]+(\\.[^\\s@.\\u0000-\\u001f\\u007f]+)+$';
export const OFFER_ID_PATTERN_SOURCE = '^[SPERA]\\d{9}_[A-Z]{2}$';
/** A store transaction ID: not blank, no control characters. */
const TRANSACTION_ID_PATTERN_SOURCE = '^(?=.*\\S)[^\\u0000-\\u001f\\u007f]+$';

const email = { type: 'string', maxLength: 254, pattern: EMAIL_PATTERN_SOURCE } as const;
const offerId = { type: 'string', pattern: OFFER_ID_PATTERN_SOURCE } as const;
const ipAddress = { type: 'string', anyOf: [{ format: 'ipv4' }, { format: 'ipv6' }] } as const;
const attestation = {
    type: 'object',
    required: ['token', 'nonce'],
    properties: {
        token: { type: 'string', minLength: 1, maxLength: 8192 },
        nonce: { type: 'string', minLength: 1, maxLength: 256 },
    },
} as const;

export const receiptRequestSchema = {
    $id: 'relay/receipt-request',
    type: 'object',
    required: ['customerEmail', 'offerId', 'order'],
    properties: {
        customerEmail: email,
        offerId,
        order: {
            type: 'object',
            required: ['amount', 'code', 'purchaseId', 'qty', 'total'],
            properties: {
                amount: { type: 'number', minimum: 0 },
                code: { type: 'string', minLength: 1 },
                purchaseId: { type: 'string', minLength: 1, maxLength: 1024, pattern: TRANSACTION_ID_PATTERN_SOURCE },
                qty: { type: 'integer', minimum: 1, maximum: 1000 },
                total: { type: 'number', minimum: 0 },
            },
        },
        ipAddress,
        attestation,
    },
} as const;

export const androidReceiptRequestSchema = {
    $id: 'relay/android-receipt-request',
    type: 'object',
    required: ['customerEmail', 'offerId', 'receipt'],
    properties: {
        customerEmail: email,
        offerId,
        receipt: {
            type: 'object',
            required: ['productId', 'purchaseToken', 'packageName', 'orderId', 'purchaseState', 'purchaseTime'],
            properties: {
                productId: { type: 'string', minLength: 1 },
                purchaseToken: { type: 'string', minLength: 1, maxLength: 4096, pattern: TRANSACTION_ID_PATTERN_SOURCE },
                packageName: { type: 'string', minLength: 1, maxLength: 4096, pattern: TRANSACTION_ID_PATTERN_SOURCE },
                orderId: { type: 'string', minLength: 1, maxLength: 4096, pattern: TRANSACTION_ID_PATTERN_SOURCE },
                purchaseState: { type: 'integer' },
                purchaseTime: { type: 'integer', minimum: 0 },
                developerPayload: { type: 'string' },
            },
        },
        ipAddress,
    },
} as const;

export const entitlementCheckSchema = {
    $id: 'relay/entitlement-check',
    type: 'object',
    required: ['customerEmail', 'offerId'],
    properties: {
        customerEmail: email,
        offerId,
        checkToken: { type: 'string', minLength: 1, maxLength: 4096 },
        attestation,
    },
} as const;

/** The validator fastify compiles route schemas with (ajv 8 + formats, every error reported). */
export function createAjv(): Ajv {
    const ajv = new Ajv({ allErrors: true, coerceTypes: false, useDefaults: false, removeAdditional: false, strict: false });
    addFormats(ajv);
    return ajv;
}

/** ajv errors → `{ "order.qty": "must be integer" }` (the body itself is `body`). */
export function fieldsOf(errors: ErrorObject[] | null | undefined): Record<string, string> {
    const fields: Record<string, string> = {};
    for (const e of errors ?? []) {
        let path = e.instancePath.split('/').filter(Boolean).join('.');
        if (e.keyword === 'required') {
            path = path ? `${path}.${String(e.params.missingProperty)}` : String(e.params.missingProperty);
        }
        const name = path || 'body';
        if (!fields[name]) {
            fields[name] = e.keyword === 'required' ? 'is required' : (e.message ?? 'is invalid');
        }
    }
    return fields;
}
