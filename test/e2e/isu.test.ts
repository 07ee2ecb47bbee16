/**
 * Instant Signup and web purchases end to end (issue 13 item 4): a subscription bought on roku.com
 * while activating the device (purchaseChannel WEB, purchaseContext ISU; csFake scenario
 * instant-signup) is recognised at the first launch. The channel asks for the email with the RFI
 * screen in the sign-in context and sends the receipt to Cleeng like an order made on the device:
 * through the same ledger, written before it is sent, through the real relay to the Cleeng fake.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LocalStack } from '../../scripts/lib/local-stack';
import { buildE2E, explain, phases, runChannel, startChain } from './support';

/** The purchase ID in instant-signup's GetPurchases.xml. */
const ISU_PURCHASE = '9c4e2a7b1d3f4a6c8e0b2d4f6a8c0e03';

describe('end to end: Instant Signup / a subscription bought on roku.com', { concurrency: false }, () => {
    let chain: LocalStack;
    before(async () => {
        chain = await startChain();
    });
    after(async () => {
        await chain?.close();
    });

    it('asks for the email in the sign-in context at first launch and delivers the receipt through the ledger', async () => {
        const email = 'isu.viewer@example.com';
        const result = await runChannel({
            app: await buildE2E('instant-signup', chain.relayUrl),
            launchParams: { store: 'emulator', email },
            // Content opens at once (Roku entitles the viewer); Back once Cleeng confirmed the access.
            keys: [{ when: /\[cleeng\] access S123123123_US granted=true final=true/, waitMs: 300, key: 'Back' }]
        });
        assert.equal(result.reason, 'closed', explain(result));
        assert.ok(result.lines.includes('[flow] -> store getUserData context=signin'), explain(result));
        assert.ok(!phases(result).includes('catalog'), 'never offered a plan: the viewer already holds one');
        // Durable first: written to the ledger before the receipt is sent.
        const saved = result.lines.indexOf(`[flow] ledger ${ISU_PURCHASE} saved=true`);
        const sent = result.lines.findIndex((l) => l.startsWith(`[cleeng] receipt ${ISU_PURCHASE} send`));
        assert.ok(saved >= 0 && sent > saved, explain(result));
        const receipts = chain.cleeng.requests.filter((r) => r.method === 'POST' && r.path === '/roku/payment').map((r) => r.json as { customerEmail: string; offerId: string; order: { purchaseId: string; code: string; amount: number } });
        assert.equal(receipts.length, 1, JSON.stringify(receipts));
        assert.equal(receipts[0]!.customerEmail, email);
        assert.equal(receipts[0]!.offerId, 'S123123123_US');
        assert.equal(receipts[0]!.order.purchaseId, ISU_PURCHASE);
        assert.equal(receipts[0]!.order.code, 'S123123123-US');
        assert.equal(receipts[0]!.order.amount, 4.99);
        assert.equal(chain.cleeng.hasAccess(email, 'S123123123_US'), true);
        assert.equal(Object.keys(result.registry.cleeng_outbox ?? {}).filter((k) => k.startsWith('r.')).length, 0, 'the record left the ledger once Cleeng accepted it');
        assert.ok(!result.lines.some((l) => l.includes(email)), 'the email never reaches the console');
    });
});
