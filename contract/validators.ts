/**
 * Validators compiled by ajv from the contract's schemas (contract/generated/schemas.ts), plus the
 * one rule between two fields that JSON Schema does not express (a receipt's order.code is its
 * offerId with '_' replaced by '-'). Import them from contract/generated (its index re-exports this).
 *
 * Every validateX(body) returns { ok: true, value } or { ok: false, fields }, where fields maps a
 * dotted path (order.qty, customerEmail, body) to a short reason: the `fields` of the relay's
 * INVALID_REQUEST answer.
 */
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { SCHEMA_LIST, RECEIPT_REQUEST_SCHEMA, RECEIPT_ACCEPTED_SCHEMA, ENTITLEMENT_CHECK_REQUEST_SCHEMA, ENTITLEMENT_CHECK_ANSWER_SCHEMA, NONCE_ANSWER_SCHEMA, HEALTH_ANSWER_SCHEMA, ERROR_BODY_SCHEMA, CHANNEL_CONFIG_SCHEMA } from './generated/schemas';
import { offerIdToRokuProductCode } from './generated/rules';
import type { ReceiptRequest, ReceiptAccepted, EntitlementCheckRequest, EntitlementCheckAnswer, NonceAnswer, HealthAnswer, ErrorBody, ChannelConfig } from './generated/types';

export type Validation<T> = { ok: true; value: T } | { ok: false; fields: Record<string, string> };

/** An ajv instance that knows every contract schema (draft-07, formats, all errors). */
export function createAjv(): Ajv {
    const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
    addFormats(ajv);
    for (const s of SCHEMA_LIST) {
        ajv.addSchema(s as object);
    }
    return ajv;
}

let shared: Ajv | undefined;
const compiled = new Map<string, ValidateFunction>();

/** The compiled validator of a contract schema, by its $id. */
export function schemaValidator(id: string): ValidateFunction {
    let v = compiled.get(id);
    if (!v) {
        shared = shared ?? createAjv();
        v = shared.getSchema(id);
        if (!v) {
            throw new Error(`no contract schema ${id}`);
        }
        compiled.set(id, v);
    }
    return v;
}

function reason(e: ErrorObject): string {
    switch (e.keyword) {
        case 'required':
            return 'is required';
        case 'type':
            return `must be ${String((e.params as { type: string }).type).replace(',', ' or ')}`;
        case 'pattern':
        case 'format':
        case 'anyOf':
            return 'is not valid';
        case 'minLength':
            return 'must not be empty';
        case 'maxLength':
            return `must be at most ${String((e.params as { limit: number }).limit)} characters`;
        case 'minimum':
        case 'maximum':
            return `must be ${e.keyword === 'minimum' ? '≥' : '≤'} ${String((e.params as { limit: number }).limit)}`;
        case 'const':
            return `must be ${JSON.stringify((e.params as { allowedValue: unknown }).allowedValue)}`;
        case 'enum':
            return `must be one of ${((e.params as { allowedValues: unknown[] }).allowedValues ?? []).map((v) => JSON.stringify(v)).join(', ')}`;
        default:
            return e.message ?? 'is not valid';
    }
}

/** ajv errors as { 'order.qty': 'must be ≤ 1000' }: the first reason per field. */
export function fieldsFromErrors(errors: ErrorObject[] | null | undefined): Record<string, string> {
    const fields: Record<string, string> = {};
    for (const e of errors ?? []) {
        const parts = e.instancePath.split('/').filter(Boolean).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
        if (e.keyword === 'required') {
            parts.push((e.params as { missingProperty: string }).missingProperty);
        }
        // anyOf reports its branches too; keep the anyOf's own line.
        if (e.schemaPath.includes('/anyOf/')) {
            continue;
        }
        const key = parts.length > 0 ? parts.join('.') : 'body';
        if (!(key in fields)) {
            fields[key] = reason(e);
        }
    }
    return fields;
}

function validator<T>(schema: { $id: string }, extra?: (value: T, fields: Record<string, string>) => void): (body: unknown) => Validation<T> {
    return (body: unknown): Validation<T> => {
        const v = schemaValidator(schema.$id);
        const fields = v(body) ? {} : fieldsFromErrors(v.errors);
        if (Object.keys(fields).length === 0 && extra) {
            extra(body as T, fields);
        }
        return Object.keys(fields).length === 0 ? { ok: true, value: body as T } : { ok: false, fields };
    };
}

/** POST /v1/roku/receipts body; also checks order.code = offerId with '_' -> '-'. */
export const validateReceiptRequest = validator<ReceiptRequest>(RECEIPT_REQUEST_SCHEMA, (r, fields) => {
    if (r.order.code !== offerIdToRokuProductCode(r.offerId)) {
        fields['order.code'] = 'must equal offerId with "_" replaced by "-"';
    }
});
/** The relay's 200 answer to a receipt. */
export const validateReceiptAccepted = validator<ReceiptAccepted>(RECEIPT_ACCEPTED_SCHEMA);
/** POST /v1/entitlements/check body. */
export const validateEntitlementCheckRequest = validator<EntitlementCheckRequest>(ENTITLEMENT_CHECK_REQUEST_SCHEMA);
export const validateEntitlementCheckAnswer = validator<EntitlementCheckAnswer>(ENTITLEMENT_CHECK_ANSWER_SCHEMA);
export const validateNonceAnswer = validator<NonceAnswer>(NONCE_ANSWER_SCHEMA);
export const validateHealthAnswer = validator<HealthAnswer>(HEALTH_ANSWER_SCHEMA);
export const validateErrorBody = validator<ErrorBody>(ERROR_BODY_SCHEMA);
/** pkg:/config/channel.json */
export const validateChannelConfig = validator<ChannelConfig>(CHANNEL_CONFIG_SCHEMA);
