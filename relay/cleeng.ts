/**
 * What the relay sends to and reads from Cleeng (shared notes: `POST /roku/payment`,
 * `POST /android/payment`, JSON-RPC 3.0). The relay's own API (the channel's side) is the
 * contract's: contract/generated.
 */
import type { ReceiptRequest } from '../contract/generated';

/** Body of Cleeng's `POST /roku/payment`. */
export interface CleengRokuPaymentRequest {
    customerEmail: string;
    offerId: string;
    order: { amount: number; code: string; purchaseId: string; qty: number; total: number };
    ipAddress?: string;
}

/** Body of Cleeng's `POST /android/payment` and of the relay's `POST /v1/android/receipts`. */
export interface CleengAndroidPaymentRequest {
    customerEmail: string;
    offerId: string;
    receipt: {
        /** Google Play SKU: the Cleeng offer ID in lower case. */
        productId: string;
        purchaseToken: string;
        packageName: string;
        orderId: string;
        purchaseState: number;
        purchaseTime: number;
        developerPayload?: string;
    };
    ipAddress?: string;
}

export interface JsonRpcError {
    code: number;
    message: string;
}

export interface GenerateCustomerTokenResult {
    token: string;
}

export interface GetAccessStatusResult {
    accessGranted: boolean;
    grantType: string | null;
    /** Unix time in seconds, or null when there is no access. */
    expiresAt: number | null;
    purchasedDirectly: boolean;
}

/** Cleeng JSON-RPC 3.0 error codes the relay acts on (Cleeng's API reference). */
export const CleengRpcCode = {
    INVALID_CUSTOMER_TOKEN: 1,
    /** generateCustomerToken: invalid publisher token. */
    INVALID_PUBLISHER_TOKEN: 3,
    OFFER_NOT_FOUND: 4,
    INVALID_ARGUMENTS: 16,
} as const;

/** The exact body the relay forwards to Cleeng: known fields only, attestation stripped. */
export function toCleengPayment(r: ReceiptRequest): CleengRokuPaymentRequest {
    const out: CleengRokuPaymentRequest = {
        customerEmail: r.customerEmail,
        offerId: r.offerId,
        order: { amount: r.order.amount, code: r.order.code, purchaseId: r.order.purchaseId, qty: r.order.qty, total: r.order.total },
    };
    if (r.ipAddress !== undefined) {
        out.ipAddress = r.ipAddress;
    }
    return out;
}
