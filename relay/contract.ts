/**
 * The relay's request/response types and their validation. The rules it shares with the channel
 * (email and offer patterns, limits, error codes and messages) come from the contract
 * (contract/, generated into contract/generated) and are re-exported here. Nothing in here does I/O.
 */
import { isIP } from 'node:net';
import {
    RELAY_ERROR_MESSAGES,
    isValidEmail,
    isOfferId,
    offerIdToRokuProductCode,
    MAX_PURCHASE_ID_LENGTH,
    MAX_ATTESTATION_TOKEN_LENGTH,
    MAX_NONCE_LENGTH,
    MAX_QTY,
    type RelayErrorCode
} from '../contract/generated';

// ---------------------------------------------------------------------------------------------
// Cleeng's own contract (POST /roku/payment, JSON-RPC 3.0)
// ---------------------------------------------------------------------------------------------

/** The `order` object of Cleeng's `/roku/payment` body. */
export interface RokuOrder {
    /** Price of one item, as a number (Roku gives localized strings; the channel converts). */
    amount: number;
    /** Roku product code: the Cleeng offer ID with `_` replaced by `-`. */
    code: string;
    /** Roku transaction ID. */
    purchaseId: string;
    qty: number;
    /** Total including tax, local currency. */
    total: number;
}

/** Body of Cleeng's `POST /roku/payment`. */
export interface CleengRokuPaymentRequest {
    customerEmail: string;
    offerId: string;
    order: RokuOrder;
    ipAddress?: string;
}

/** Cleeng's 200 answer to `/roku/payment` ("queued", not "granted"). */
export interface CleengOkResponse {
    message: 'OK';
}

/** The error body the emulator answers Cleeng's REST routes with. */
export interface CleengErrorResponse {
    code: number;
    message: string;
}

export interface JsonRpcRequest<P = Record<string, unknown>> {
    jsonrpc: '2.0';
    id: number | string;
    method: string;
    params: P;
}

export interface JsonRpcError {
    code: number;
    message: string;
}

export type JsonRpcResponse<R> =
    | { result: R; error: null; id?: number | string | null; jsonrpc?: '2.0' }
    | { result: null; error: JsonRpcError; id?: number | string | null; jsonrpc?: '2.0' };

export interface GenerateCustomerTokenParams {
    publisherToken: string;
    customerEmail: string;
}
export interface GenerateCustomerTokenResult {
    token: string;
}
export interface GetAccessStatusParams {
    customerToken: string;
    offerId: string;
    ipAddress?: string;
}
export interface GetAccessStatusResult {
    accessGranted: boolean;
    grantType: string | null;
    /** Unix time in seconds, or null when there is no access. */
    expiresAt: number | null;
    purchasedDirectly: boolean;
}

/** Cleeng JSON-RPC 3.0 error codes the relay and emulator care about. */
export const CleengRpcCode = {
    INVALID_CUSTOMER_TOKEN: 1,
    /** Cleeng's API reference for generateCustomerToken: 3 "Invalid publisher token" (contract/cleeng/json-rpc-errors.json). */
    INVALID_PUBLISHER_TOKEN: 3,
    OFFER_NOT_FOUND: 4,
    IP_LIMIT: 14,
    INVALID_ARGUMENTS: 16,
    /** JSON-RPC's own "method not found". */
    METHOD_NOT_FOUND: -32601,
} as const;

// ---------------------------------------------------------------------------------------------
// The relay's contract (what the channel calls)
// ---------------------------------------------------------------------------------------------

/** Device proof: a JWT signed by the device's attestation key, bound to a nonce from POST /v1/nonce. */
export interface Attestation {
    token: string;
    nonce: string;
}

/** Body of the relay's `POST /v1/roku/receipts`: Cleeng's body plus an optional device proof. */
export interface ReceiptRequest extends CleengRokuPaymentRequest {
    attestation?: Attestation;
}

/** 200 answer of `POST /v1/roku/receipts`. */
export interface ReceiptAccepted {
    status: 'queued';
    purchaseId: string;
    requestId: string;
    /** Opaque proof for `/v1/entitlements/check`, bound to (email, offer). */
    checkToken?: string;
}

/** Body of `POST /v1/entitlements/check`. */
export interface EntitlementCheckRequest {
    customerEmail: string;
    offerId: string;
}

/** 200 answer of `POST /v1/entitlements/check`. */
export interface EntitlementCheckResponse {
    accessGranted: boolean;
    /** Unix time in seconds as Cleeng gives it, or null. Grant on `accessGranted`, not on this. */
    expiresAt: number | null;
}

/** 200 answer of `POST /v1/nonce`. */
export interface NonceResponse {
    nonce: string;
    /** Unix time in milliseconds after which the nonce is refused. */
    expiresAt: number;
}

export interface HealthResponse {
    ok: true;
}

/** Every relay error code: contract/relay/errors.json (generated into contract/generated). */
export type { RelayErrorCode } from '../contract/generated';
export { RELAY_ERROR_MESSAGES, RELAY_ERRORS, RELAY_ERROR_CODES, errorClass } from '../contract/generated';

/** Every non-2xx answer of the relay. */
export interface RelayErrorBody {
    error: {
        code: RelayErrorCode;
        message: string;
        /** For INVALID_REQUEST: field path (e.g. `order.qty`) → reason. */
        fields?: Record<string, string>;
    };
    requestId: string;
}

export function relayError(code: RelayErrorCode, requestId: string, fields?: Record<string, string>): RelayErrorBody {
    const error: RelayErrorBody['error'] = { code, message: RELAY_ERROR_MESSAGES[code] };
    if (fields && Object.keys(fields).length > 0) {
        error.fields = fields;
    }
    return { error, requestId };
}

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

export type Validation<T> = { ok: true; value: T } | { ok: false; fields: Record<string, string> };

// The rules shared with the channel live in the contract (contract/common.schema.json).
export {
    OFFER_ID_PATTERN,
    EMAIL_PATTERN,
    MAX_EMAIL_LENGTH,
    MAX_PURCHASE_ID_LENGTH,
    MAX_ATTESTATION_TOKEN_LENGTH,
    MAX_NONCE_LENGTH,
    MAX_QTY,
    offerIdToRokuProductCode
} from '../contract/generated';

function isPlainObject(v: unknown): v is Record<string, unknown> {
    return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;

/**
 * Type-level check of Cleeng's `/roku/payment` body, as Cleeng itself validates (400 on failure):
 * every field present with the right JSON type. No format rules; those are the relay's (below).
 */
export function checkRokuPaymentShape(body: unknown): Validation<CleengRokuPaymentRequest> {
    const fields: Record<string, string> = {};
    if (!isPlainObject(body)) {
        return { ok: false, fields: { body: 'must be a JSON object' } };
    }
    const str = (name: string, v: unknown): void => {
        if (typeof v !== 'string') {
            fields[name] = v === undefined ? 'is required' : 'must be a string';
        } else if (v.length === 0) {
            fields[name] = 'must not be empty';
        }
    };
    const num = (name: string, v: unknown): void => {
        if (typeof v !== 'number') {
            fields[name] = v === undefined ? 'is required' : 'must be a number';
        } else if (!Number.isFinite(v)) {
            fields[name] = 'must be a finite number';
        }
    };
    str('customerEmail', body.customerEmail);
    str('offerId', body.offerId);
    const order = body.order;
    if (!isPlainObject(order)) {
        fields.order = order === undefined ? 'is required' : 'must be an object';
    } else {
        num('order.amount', order.amount);
        str('order.code', order.code);
        str('order.purchaseId', order.purchaseId);
        num('order.qty', order.qty);
        num('order.total', order.total);
    }
    if (body.ipAddress !== undefined && typeof body.ipAddress !== 'string') {
        fields.ipAddress = 'must be a string';
    }
    if (Object.keys(fields).length > 0) {
        return { ok: false, fields };
    }
    const o = order as Record<string, unknown>;
    const value: CleengRokuPaymentRequest = {
        customerEmail: body.customerEmail as string,
        offerId: body.offerId as string,
        order: {
            amount: o.amount as number,
            code: o.code as string,
            purchaseId: o.purchaseId as string,
            qty: o.qty as number,
            total: o.total as number,
        },
    };
    if (typeof body.ipAddress === 'string') {
        value.ipAddress = body.ipAddress;
    }
    return { ok: true, value };
}

function checkEmail(fields: Record<string, string>, name: string, v: unknown): void {
    if (fields[name]) {
        return;
    }
    if (typeof v !== 'string') {
        fields[name] = v === undefined ? 'is required' : 'must be a string';
    } else if (!isValidEmail(v)) {
        fields[name] = 'must be an email address';
    }
}

function checkOfferId(fields: Record<string, string>, name: string, v: unknown): void {
    if (fields[name]) {
        return;
    }
    if (typeof v !== 'string') {
        fields[name] = v === undefined ? 'is required' : 'must be a string';
    } else if (!isOfferId(v)) {
        fields[name] = 'must be a Cleeng offer ID like S123456789_US';
    }
}

/**
 * Strict validation of the relay's `POST /v1/roku/receipts` body. Unknown fields are ignored and
 * never forwarded (the value returned holds only the known ones).
 */
export function validateReceiptRequest(body: unknown): Validation<ReceiptRequest> {
    const shape = checkRokuPaymentShape(body);
    const fields: Record<string, string> = shape.ok ? {} : { ...shape.fields };
    if (!isPlainObject(body)) {
        return { ok: false, fields };
    }
    checkEmail(fields, 'customerEmail', body.customerEmail);
    checkOfferId(fields, 'offerId', body.offerId);
    const order = isPlainObject(body.order) ? body.order : undefined;
    if (order) {
        for (const k of ['amount', 'total'] as const) {
            const v = order[k];
            if (!fields[`order.${k}`] && typeof v === 'number' && v < 0) {
                fields[`order.${k}`] = 'must be a number ≥ 0';
            }
        }
        const qty = order.qty;
        if (!fields['order.qty'] && typeof qty === 'number' && (!Number.isInteger(qty) || qty < 1 || qty > MAX_QTY)) {
            fields['order.qty'] = `must be an integer from 1 to ${MAX_QTY}`;
        }
        const pid = order.purchaseId;
        if (!fields['order.purchaseId'] && typeof pid === 'string') {
            if (pid.trim().length === 0) {
                fields['order.purchaseId'] = 'must not be empty';
            } else if (pid.length > MAX_PURCHASE_ID_LENGTH || CONTROL_CHARS.test(pid)) {
                fields['order.purchaseId'] = 'must be a store transaction ID';
            }
        }
        const code = order.code;
        if (!fields['order.code'] && typeof code === 'string' && typeof body.offerId === 'string' && !fields.offerId) {
            if (code !== offerIdToRokuProductCode(body.offerId)) {
                fields['order.code'] = 'must equal offerId with "_" replaced by "-"';
            }
        }
    }
    if (!fields.ipAddress && typeof body.ipAddress === 'string' && isIP(body.ipAddress) === 0) {
        fields.ipAddress = 'must be an IPv4 or IPv6 address';
    }
    let attestation: Attestation | undefined;
    if (body.attestation !== undefined) {
        const a = body.attestation;
        if (!isPlainObject(a)) {
            fields.attestation = 'must be an object {token, nonce}';
        } else {
            if (typeof a.token !== 'string' || a.token.length === 0 || a.token.length > MAX_ATTESTATION_TOKEN_LENGTH) {
                fields['attestation.token'] = 'must be a non-empty string';
            }
            if (typeof a.nonce !== 'string' || a.nonce.length === 0 || a.nonce.length > MAX_NONCE_LENGTH) {
                fields['attestation.nonce'] = 'must be a non-empty string';
            }
            if (!fields['attestation.token'] && !fields['attestation.nonce']) {
                attestation = { token: a.token as string, nonce: a.nonce as string };
            }
        }
    }
    if (Object.keys(fields).length > 0 || !shape.ok) {
        return { ok: false, fields };
    }
    const value: ReceiptRequest = { ...shape.value, order: { ...shape.value.order } };
    if (attestation) {
        value.attestation = attestation;
    }
    return { ok: true, value };
}

/** Validation of `POST /v1/entitlements/check`. */
export function validateEntitlementCheck(body: unknown): Validation<EntitlementCheckRequest> {
    if (!isPlainObject(body)) {
        return { ok: false, fields: { body: 'must be a JSON object' } };
    }
    const fields: Record<string, string> = {};
    checkEmail(fields, 'customerEmail', body.customerEmail);
    checkOfferId(fields, 'offerId', body.offerId);
    if (Object.keys(fields).length > 0) {
        return { ok: false, fields };
    }
    return { ok: true, value: { customerEmail: body.customerEmail as string, offerId: body.offerId as string } };
}

/** The exact body the relay forwards to Cleeng: known fields only, attestation stripped. */
export function toCleengPayment(r: ReceiptRequest): CleengRokuPaymentRequest {
    const out: CleengRokuPaymentRequest = {
        customerEmail: r.customerEmail,
        offerId: r.offerId,
        order: {
            amount: r.order.amount,
            code: r.order.code,
            purchaseId: r.order.purchaseId,
            qty: r.order.qty,
            total: r.order.total,
        },
    };
    if (r.ipAddress !== undefined) {
        out.ipAddress = r.ipAddress;
    }
    return out;
}

// ---------------------------------------------------------------------------------------------
// Android (Google Play) receipts: Cleeng's `/android/payment` shape
// ---------------------------------------------------------------------------------------------

export interface AndroidReceipt {
    /** Google Play SKU: the Cleeng offer ID in lower case. */
    productId: string;
    purchaseToken: string;
    packageName: string;
    orderId: string;
    purchaseState: number;
    purchaseTime: number;
    developerPayload?: string;
}

/** Body of Cleeng's `POST /android/payment` and of the relay's `POST /v1/android/receipts`. */
export interface CleengAndroidPaymentRequest {
    customerEmail: string;
    offerId: string;
    receipt: AndroidReceipt;
    ipAddress?: string;
}

/** Type-level check of `/android/payment` (what Cleeng answers 400 for). */
export function checkAndroidPaymentShape(body: unknown): Validation<CleengAndroidPaymentRequest> {
    if (!isPlainObject(body)) {
        return { ok: false, fields: { body: 'must be a JSON object' } };
    }
    const fields: Record<string, string> = {};
    const str = (name: string, v: unknown, optional = false): void => {
        if (v === undefined && optional) {
            return;
        }
        if (typeof v !== 'string') {
            fields[name] = v === undefined ? 'is required' : 'must be a string';
        } else if (v.length === 0 && !optional) {
            fields[name] = 'must not be empty';
        }
    };
    const num = (name: string, v: unknown): void => {
        if (typeof v !== 'number' || !Number.isFinite(v)) {
            fields[name] = v === undefined ? 'is required' : 'must be a number';
        }
    };
    str('customerEmail', body.customerEmail);
    str('offerId', body.offerId);
    const r = body.receipt;
    if (!isPlainObject(r)) {
        fields.receipt = r === undefined ? 'is required' : 'must be an object';
    } else {
        str('receipt.productId', r.productId);
        str('receipt.purchaseToken', r.purchaseToken);
        str('receipt.packageName', r.packageName);
        str('receipt.orderId', r.orderId);
        num('receipt.purchaseState', r.purchaseState);
        num('receipt.purchaseTime', r.purchaseTime);
        str('receipt.developerPayload', r.developerPayload, true);
    }
    if (body.ipAddress !== undefined && typeof body.ipAddress !== 'string') {
        fields.ipAddress = 'must be a string';
    }
    if (Object.keys(fields).length > 0) {
        return { ok: false, fields };
    }
    const rr = r as Record<string, unknown>;
    const receipt: AndroidReceipt = {
        productId: rr.productId as string,
        purchaseToken: rr.purchaseToken as string,
        packageName: rr.packageName as string,
        orderId: rr.orderId as string,
        purchaseState: rr.purchaseState as number,
        purchaseTime: rr.purchaseTime as number,
    };
    if (typeof rr.developerPayload === 'string') {
        receipt.developerPayload = rr.developerPayload;
    }
    const value: CleengAndroidPaymentRequest = {
        customerEmail: body.customerEmail as string,
        offerId: body.offerId as string,
        receipt,
    };
    if (typeof body.ipAddress === 'string') {
        value.ipAddress = body.ipAddress;
    }
    return { ok: true, value };
}

/** Strict validation of the relay's `POST /v1/android/receipts`. */
export function validateAndroidReceiptRequest(body: unknown): Validation<CleengAndroidPaymentRequest> {
    const shape = checkAndroidPaymentShape(body);
    const fields: Record<string, string> = shape.ok ? {} : { ...shape.fields };
    if (!isPlainObject(body)) {
        return { ok: false, fields };
    }
    checkEmail(fields, 'customerEmail', body.customerEmail);
    checkOfferId(fields, 'offerId', body.offerId);
    const r = isPlainObject(body.receipt) ? body.receipt : undefined;
    if (r) {
        if (!fields['receipt.productId'] && !fields.offerId && typeof body.offerId === 'string' && r.productId !== body.offerId.toLowerCase()) {
            fields['receipt.productId'] = 'must equal offerId in lower case';
        }
        for (const k of ['purchaseToken', 'orderId', 'packageName'] as const) {
            const v = r[k];
            if (!fields[`receipt.${k}`] && typeof v === 'string' && (v.length > MAX_PURCHASE_ID_LENGTH * 4 || CONTROL_CHARS.test(v))) {
                fields[`receipt.${k}`] = 'is not valid';
            }
        }
        const state = r.purchaseState;
        if (!fields['receipt.purchaseState'] && typeof state === 'number' && !Number.isInteger(state)) {
            fields['receipt.purchaseState'] = 'must be an integer';
        }
        const time = r.purchaseTime;
        if (!fields['receipt.purchaseTime'] && typeof time === 'number' && (!Number.isInteger(time) || time < 0)) {
            fields['receipt.purchaseTime'] = 'must be a timestamp in milliseconds';
        }
    }
    if (!fields.ipAddress && typeof body.ipAddress === 'string' && isIP(body.ipAddress) === 0) {
        fields.ipAddress = 'must be an IPv4 or IPv6 address';
    }
    if (Object.keys(fields).length > 0 || !shape.ok) {
        return { ok: false, fields };
    }
    return { ok: true, value: shape.value };
}

// ---------------------------------------------------------------------------------------------
// Handling a request (shared by the relay and the emulator's relay routes)
// ---------------------------------------------------------------------------------------------

/** Validates a request body as `validate` does; a body that did not parse as JSON fails on `body`. */
export function validateJsonBody<T>(parsed: { ok: true; value: unknown } | { ok: false }, validate: (body: unknown) => Validation<T>): Validation<T> {
    return parsed.ok ? validate(parsed.value) : { ok: false, fields: { body: 'must be valid JSON' } };
}

/** One of the receipt routes (`POST /v1/roku/receipts`, `POST /v1/android/receipts`). */
export interface ReceiptRoute<T extends { customerEmail: string; offerId: string }> {
    store: 'roku' | 'android';
    validate: (body: unknown) => Validation<T>;
    /** The store's id of the transaction: every submission of one purchase has the same. */
    transactionId: (receipt: T) => string;
    /** The `purchaseId` of the 200 answer. */
    purchaseId: (receipt: T) => string;
}

export const ROKU_RECEIPTS: ReceiptRoute<ReceiptRequest> = {
    store: 'roku',
    validate: validateReceiptRequest,
    transactionId: (r) => r.order.purchaseId,
    purchaseId: (r) => r.order.purchaseId,
};

export const ANDROID_RECEIPTS: ReceiptRoute<CleengAndroidPaymentRequest> = {
    store: 'android',
    validate: validateAndroidReceiptRequest,
    transactionId: (r) => r.receipt.purchaseToken,
    purchaseId: (r) => r.receipt.orderId,
};

/** The 200 answer of a receipt route. */
export function receiptAccepted<T extends { customerEmail: string; offerId: string }>(route: ReceiptRoute<T>, receipt: T, requestId: string): ReceiptAccepted {
    return { status: 'queued', purchaseId: route.purchaseId(receipt), requestId };
}
