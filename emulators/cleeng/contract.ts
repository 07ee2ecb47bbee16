/**
 * Cleeng's documented contract, as the fake checks it: the JSON Schemas in contract/cleeng/
 * compiled with ajv. Nothing here knows the relay or the channel.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';

export const CLEENG_CONTRACT_DIR = path.resolve(__dirname, '..', '..', 'contract', 'cleeng');

function readJson(name: string): Record<string, unknown> {
    return JSON.parse(fs.readFileSync(path.join(CLEENG_CONTRACT_DIR, name), 'utf8')) as Record<string, unknown>;
}

/** `POST /roku/payment` body. */
export interface RokuPaymentRequest {
    customerEmail: string;
    offerId: string;
    order: { amount: number; code: string; purchaseId: string; qty: number; total: number };
    ipAddress?: string;
}

/** `POST /android/payment` body. */
export interface AndroidPaymentRequest {
    customerEmail: string;
    offerId: string;
    receipt: { productId: string; purchaseToken: string; packageName: string; orderId: string; purchaseState: number; purchaseTime: number; developerPayload?: string };
    ipAddress?: string;
}

export interface JsonRpcCall {
    method: string;
    params: Record<string, unknown>;
    jsonrpc?: '2.0';
    id?: number | string;
}

export interface GenerateCustomerTokenParams {
    publisherToken: string;
    customerEmail: string;
}

export interface GetAccessStatusParams {
    customerToken: string;
    offerId: string;
    ipAddress?: string;
}

export interface GetAccessStatusResult {
    accessGranted: boolean;
    grantType: string | null;
    expiresAt: number | null;
    purchasedDirectly?: boolean;
}

export interface JsonRpcError {
    code: number;
    message: string;
}

/** Cleeng's JSON-RPC error codes (contract/cleeng/json-rpc-errors.json), by method. */
export const RPC_ERRORS = readJson('json-rpc-errors.json') as unknown as {
    generateCustomerToken: Record<string, string>;
    getAccessStatus: Record<string, string>;
    jsonRpc: Record<string, string>;
};

function rpcError(group: keyof typeof RPC_ERRORS, message: string): JsonRpcError {
    const table = RPC_ERRORS[group];
    const code = Object.keys(table).find((k) => table[k] === message);
    if (code === undefined) {
        throw new Error(`contract/cleeng/json-rpc-errors.json has no "${message}" under ${group}`);
    }
    return { code: Number(code), message };
}

/** The errors the fake answers with, each looked up in the contract's table. */
export const RPC = {
    INVALID_PUBLISHER_TOKEN: rpcError('generateCustomerToken', 'Invalid publisher token'),
    TOKEN_INVALID_ARGUMENTS: rpcError('generateCustomerToken', 'Invalid arguments'),
    INVALID_CUSTOMER_TOKEN: rpcError('getAccessStatus', 'Invalid customer token'),
    OFFER_NOT_FOUND: rpcError('getAccessStatus', 'Offer not found'),
    ACCESS_INVALID_ARGUMENTS: rpcError('getAccessStatus', 'Invalid arguments'),
    PARSE_ERROR: rpcError('jsonRpc', 'Parse error'),
    METHOD_NOT_FOUND: rpcError('jsonRpc', 'Method not found'),
} as const;

const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
for (const file of ['roku-payment.request.schema.json', 'roku-payment.ok.schema.json', 'error.schema.json', 'android-payment.request.schema.json', 'json-rpc.schema.json']) {
    ajv.addSchema(readJson(file));
}

const BASE = 'https://contract.cleeng-roku.invalid/cleeng/';

function compiled<T>(ref: string): ValidateFunction<T> {
    const v = ajv.getSchema<T>(BASE + ref);
    if (!v) {
        throw new Error(`no schema ${ref} in contract/cleeng`);
    }
    return v;
}

export const schemas = {
    rokuPayment: compiled<RokuPaymentRequest>('roku-payment.request.schema.json'),
    paymentOk: compiled<{ message: 'OK' }>('roku-payment.ok.schema.json'),
    restError: compiled<{ code: number; message: string }>('error.schema.json'),
    androidPayment: compiled<AndroidPaymentRequest>('android-payment.request.schema.json'),
    rpcRequest: compiled<JsonRpcCall>('json-rpc.schema.json#/definitions/request'),
    rpcResponse: compiled<unknown>('json-rpc.schema.json#/definitions/response'),
    generateCustomerTokenParams: compiled<GenerateCustomerTokenParams>('json-rpc.schema.json#/definitions/generateCustomerTokenParams'),
    generateCustomerTokenResult: compiled<{ token: string }>('json-rpc.schema.json#/definitions/generateCustomerTokenResult'),
    getAccessStatusParams: compiled<GetAccessStatusParams>('json-rpc.schema.json#/definitions/getAccessStatusParams'),
    getAccessStatusResult: compiled<GetAccessStatusResult>('json-rpc.schema.json#/definitions/getAccessStatusResult'),
};

/** The fields an ajv run refused, as `a.b.c` paths (for the 400 message; never values). */
export function refusedFields(errors: ErrorObject[] | null | undefined): string[] {
    const out = new Set<string>();
    for (const e of errors ?? []) {
        const at = e.instancePath.replace(/^\//, '').replace(/\//g, '.');
        const missing = e.keyword === 'required' ? String((e.params as { missingProperty?: string }).missingProperty ?? '') : '';
        out.add([at, missing].filter(Boolean).join('.') || 'body');
    }
    return [...out];
}
