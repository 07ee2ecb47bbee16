/**
 * The one body the contract does not describe (the relay's Android route, Cleeng's /android/payment
 * shape), built from the contract's email and offer rules, and the ajv instance that compiles it.
 * The Roku receipt and entitlement-check bodies are validated by the contract's own schemas.
 * Android productId = offerId in lower case is checked in server.ts.
 */
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { EMAIL_PATTERN, MAX_EMAIL_LENGTH, OFFER_ID_PATTERN } from '../contract/generated';

const email = { type: 'string', maxLength: MAX_EMAIL_LENGTH, pattern: EMAIL_PATTERN.source } as const;
const offerId = { type: 'string', pattern: OFFER_ID_PATTERN.source } as const;
const ipAddress = { type: 'string', anyOf: [{ format: 'ipv4' }, { format: 'ipv6' }] } as const;
/** A store transaction ID: not blank, no control characters. */
const TRANSACTION_ID_PATTERN_SOURCE = '^(?=.*\\S)[^\\u0000-\\u001f\\u007f]+$';

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

/** The validator fastify compiles route schemas with (ajv 8 + formats, every error reported). */
export function createAjv(): Ajv {
    const ajv = new Ajv({ allErrors: true, coerceTypes: false, useDefaults: false, removeAdditional: false, strict: false });
    addFormats(ajv);
    return ajv;
}
