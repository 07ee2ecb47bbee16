/**
 * Automatic account link end to end (issue 13 item 3; Roku Pay requirement 4.3): two simulator
 * runs are two devices of one Roku account. The Roku cloud that keeps a channel's data per Roku
 * account is a loopback fake (emulators/roku-cloud) both runs reach through the store emulator's
 * storeChannelCredData / getChannelCred. Device A buys through the real relay to the Cleeng fake
 * and links the viewer (email + the relay's check token, never a Cleeng token); device B, with an
 * empty registry, restores the link and opens signed in and entitled: no RFI, no typing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startRokuCloudFake, type RokuCloudFake } from '../../emulators/roku-cloud';
import type { LocalStack } from '../../scripts/lib/local-stack';
import { buildE2E, explain, onScreen, runChannel, startChain } from './support';

const EMAIL = 'linked.viewer@example.com';
const ACCOUNT = 'roku-account-1';
/** new-viewer's PlaceOrder purchase: device A orders it, device B's account holds it (linked-account). */
const PURCHASE = '7d1e4b2a9c0f4e6b8a3d5c7e9f1a2b01';

describe('end to end: automatic account link across two devices of one Roku account', { concurrency: false }, () => {
    let chain: LocalStack;
    let cloud: RokuCloudFake;
    before(async () => {
        chain = await startChain();
        cloud = await startRokuCloudFake();
    });
    after(async () => {
        await chain?.close();
        await cloud?.close();
    });

    it('links the viewer after the purchase on device A and signs them in on device B with no typing and no RFI', async () => {
        const accountUrl = cloud.accountUrl(ACCOUNT);
        // Device A: a new viewer buys the monthly plan.
        const first = await runChannel({
            app: await buildE2E('new-viewer', chain.relayUrl),
            launchParams: { store: 'emulator', email: EMAIL, rokuAccountUrl: accountUrl },
            keys: [...onScreen('catalog', ['Select']), { when: '[flow] account link stored status=1', waitMs: 300, key: 'Back' }]
        });
        assert.equal(first.reason, 'closed', explain(first));
        assert.ok(first.lines.some((l) => /\[cleeng\] receipt \S+ accepted/.test(l)), explain(first));

        // What the Roku cloud keeps: the email and the relay's check token, nothing else.
        const stored = cloud.channelData(ACCOUNT);
        assert.ok(stored, 'device A stored channel data for the Roku account');
        const doc = JSON.parse(stored) as { v: number; email: string; tokens: { offerId: string; token: string }[] };
        assert.deepEqual(Object.keys(doc).sort(), ['email', 'tokens', 'v']);
        assert.equal(doc.email, EMAIL);
        assert.equal(doc.tokens.length, 1);
        assert.equal(doc.tokens[0]!.offerId, 'S123123123_US');
        // It is the relay's check token: the relay accepts it as proof for this email and offer.
        const check = await fetch(`${chain.relayUrl}/v1/entitlements/check`, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json' },
            body: JSON.stringify({ customerEmail: EMAIL, offerId: 'S123123123_US', checkToken: doc.tokens[0]!.token })
        });
        assert.equal(check.status, 200, 'the relay accepts the stored token as its check token');
        const customerTokens = chain.cleeng.requests
            .filter((r) => r.path === '/3.0/json-rpc')
            .map((r) => JSON.stringify(r.json));
        assert.ok(!customerTokens.some((body) => stored.includes(body)), 'no Cleeng request or token is stored');
        assert.ok(!first.lines.some((l) => l.includes(EMAIL) || l.includes(doc.tokens[0]!.token)), 'neither the email nor the check token reaches the console');

        // Device B: same Roku account (it holds device A's purchase), a registry that never saw the viewer.
        const mark = chain.relayRequests().length;
        const second = await runChannel({
            app: await buildE2E('linked-account', chain.relayUrl),
            launchParams: { store: 'emulator', rokuAccountUrl: accountUrl, rfi: 'decline' },
            // Content opens first; Back once Cleeng confirmed the access.
            keys: [{ when: /\[cleeng\] access S123123123_US granted=true final=true/, waitMs: 300, key: 'Back' }]
        });
        assert.equal(second.reason, 'closed', explain(second));
        assert.ok(second.lines.includes('[flow] account link: viewer restored with 1 check token(s)'), explain(second));
        assert.ok(!second.lines.some((l) => l.startsWith('[flow] -> store getUserData')), 'no RFI screen on device B');
        assert.ok(!second.lines.includes('[flow] screen email'), 'no typing on device B');
        assert.deepEqual(second.lines.filter((l) => l.startsWith('[flow] screen ')), ['[flow] screen progress', '[flow] screen access']);
        assert.equal(second.registry.cleeng_identity?.email, EMAIL, 'device B now knows the viewer');
        // Entitled through the relay with the restored check token, not a device proof.
        const checks = chain.relayRequests().slice(mark).filter((e) => e.path === '/v1/entitlements/check');
        assert.ok(checks.some((e) => e.status === 200 && e.proof === 'check-token'), JSON.stringify(checks));
        // Device B's reconcile of the account's purchase is not a second delivery.
        assert.equal(chain.cleeng.purchases().filter((p) => p.purchaseId === PURCHASE).length, 1);
        assert.ok(!second.lines.some((l) => l.includes(EMAIL)), 'the email never reaches the console');
    });
});
