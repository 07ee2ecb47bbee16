/**
 * Sign-in end to end (issue 13 item 6): "Already subscribed? Sign in" → the RFI screen in the
 * sign-in context → Cleeng access checks through the real relay (the device has no check token,
 * so it proves itself with a device attestation token) → access for a viewer whose Cleeng
 * subscription was bought elsewhere, such as on the web. An email Cleeng has no subscription for
 * gets the plans back with a notice.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LocalStack } from '../../scripts/lib/local-stack';
import type { SimulatorResult } from '../../scripts/lib/simulator-types';
import { startDeviceProof, type DeviceProof } from './device-proof';
import { buildE2E, explain, onScreen, phases, runChannel, startChain } from './support';

/** From the catalog: Right from the plans to "Already subscribed? Sign in" (the catalog's only action); select it once it has the focus. */
const SIGN_IN = [...onScreen('catalog', ['Right']), { when: '[flow] focus actions', waitMs: 300, key: 'Select' }];

function relayChecks(chain: LocalStack, from: number): Record<string, unknown>[] {
    return chain.relayRequests().slice(from).filter((e) => e.path === '/v1/entitlements/check');
}

describe('end to end: sign-in for a subscription bought elsewhere', { concurrency: false }, () => {
    let chain: LocalStack;
    let proof: DeviceProof;
    let app: string;
    before(async () => {
        proof = await startDeviceProof();
        chain = await startChain({ relay: { attestation: { cert: proof.certPath, channelId: proof.channelId, skewSec: 30, maxAgeSec: 300 } } });
        // A device proof goes through the render thread and the store emulator: on a busy machine it
        // can take longer than the 5 s e2e default, so the channel waits up to 20 s for one.
        app = await buildE2E('new-viewer', chain.relayUrl, { CLEENG_TIMEOUT_MS: '20000' });
    });
    after(async () => {
        await chain?.close();
        await proof?.close();
    });

    it('grants access to a viewer whose Cleeng subscription was bought on the web', async () => {
        const email = 'web.viewer@example.com';
        chain.cleeng.reset();
        // Bought on the publisher's website: Cleeng grants the yearly offer, Roku knows nothing of it.
        chain.cleeng.grantNow(email, 'S123123124_US');
        const mark = chain.relayRequests().length;
        const result: SimulatorResult = await runChannel({
            app,
            launchParams: { store: 'emulator', email, attestationUrl: proof.tokenUrl },
            keys: [...SIGN_IN, ...onScreen('access', ['Back'], 'signed-in')]
        });
        assert.equal(result.reason, 'closed', explain(result));
        assert.ok(result.lines.includes('[flow] -> store getUserData context=signin'), 'the RFI screen in the sign-in context');
        const p = phases(result);
        assert.deepEqual(p.slice(p.indexOf('identifying')), ['identifying', 'checking', 'signingIn', 'access'], p.join(','));
        // Cleeng was asked through the relay, the device proved itself, and the yearly plan was found.
        const checks = relayChecks(chain, mark);
        assert.ok(checks.some((e) => e.status === 200 && e.proof === 'attestation' && e.accessGranted === true), JSON.stringify(checks));
        assert.ok(proof.nonces.length >= 1, 'a device attestation token was asked for');
        assert.ok(result.lines.some((l) => /^\[cleeng\] access S123123124_US granted=true/.test(l)), explain(result));
        assert.equal(chain.cleeng.purchases().length, 0, 'nothing was bought on Roku');
        assert.ok(result.lines.includes('[red] Roku_Authenticated'));
        assert.ok(!result.lines.some((l) => l.includes(email)), 'the email never reaches the console');
    });

    it('gives the plans back with a notice when Cleeng has no subscription for the email', async () => {
        chain.cleeng.reset();
        const result = await runChannel({
            app,
            launchParams: { store: 'emulator', email: 'nobody@example.com', attestationUrl: proof.tokenUrl },
            keys: [...SIGN_IN, { when: '[flow] phase signingIn' }, ...onScreen('catalog', ['Back'])]
        });
        assert.equal(result.reason, 'closed', explain(result));
        assert.ok(result.lines.some((l) => l.startsWith('[flow] notice ') && l.includes("couldn't find a subscription")), explain(result));
        assert.ok(!phases(result).includes('access'));
    });
});
