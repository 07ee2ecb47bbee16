/**
 * Region offers end to end: the store emulator's getUserRegionData country picks the catalog's
 * offers whose Cleeng suffix matches (_US, _GB); with no match, or no usable region, every mapped
 * offer is shown and the console says why. The channel runs in the simulator against the real relay.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { LocalStack } from '../../scripts/lib/local-stack';
import type { SimulatorResult } from '../../scripts/lib/simulator-types';
import { buildE2E, explain, runChannel, startChain } from './support';

let chain: LocalStack;
let built: Promise<string> | undefined;
function app(): Promise<string> {
    built ??= buildE2E('regions', chain.relayUrl);
    return built;
}

/** What the catalog listed (`[flow] item <name> | <detail>`). */
function items(result: SimulatorResult): string[] {
    return result.lines
        .filter((l) => l.startsWith('[flow] item '))
        .map((l) => l.slice('[flow] item '.length));
}

async function catalogRun(
    launch: Record<string, string>,
    screenshot?: string,
): Promise<SimulatorResult> {
    const keys = [
        { when: '[flow] screen catalog', waitMs: 600 },
        ...(screenshot ? [{ screenshot }] : []),
        { key: 'Back' },
    ];
    return runChannel({
        app: await app(),
        launchParams: { store: 'emulator', ...launch },
        keys,
    });
}

describe('end to end: region offers', { concurrency: false }, () => {
    before(async () => {
        chain = await startChain();
    });
    after(async () => {
        await chain?.close();
    });

    it('a viewer in the UK sees only the _GB offers, with prices as Roku gives them', async () => {
        const result = await catalogRun({ country: 'GB' }, 'catalog-region-gb');
        assert.equal(result.reason, 'closed', explain(result));
        assert.deepEqual(
            items(result),
            ['Monthly (UK) | £3.99 / month', 'Yearly (UK) | £39.99 / year'],
            explain(result),
        );
        assert.ok(
            result.lines.includes('[flow] region GB: 2 of 5 offers'),
            explain(result),
        );
    });

    it('a viewer in the US sees only the _US offers', async () => {
        const result = await catalogRun({ country: 'US' });
        assert.equal(result.reason, 'closed', explain(result));
        assert.deepEqual(
            items(result).map((i) => i.split(' | ')[0]),
            ['Monthly', 'Yearly', 'Weekend pass'],
            explain(result),
        );
        assert.ok(
            result.lines.includes('[flow] region US: 3 of 5 offers'),
            explain(result),
        );
    });

    for (const [label, launch, reason] of [
        [
            'a country with no offers (FR)',
            { country: 'FR' },
            'FR: showing all 5 offers (no offer ends in _FR)',
        ],
        [
            'a garbage country',
            { country: '%%garbage%%' },
            ': showing all 5 offers (the store gave no usable country)',
        ],
        [
            'no region node (the wrapper reports -3)',
            { country: 'missing' },
            ': showing all 5 offers (getUserRegionData failed with status -3)',
        ],
    ] as const) {
        it(`${label}: every mapped offer, and a log line saying why`, async () => {
            const result = await catalogRun(launch);
            assert.equal(result.reason, 'closed', explain(result));
            assert.equal(result.crash, undefined);
            assert.equal(items(result).length, 5, explain(result));
            assert.ok(
                result.lines.includes(`[flow] region ${reason}`),
                explain(result),
            );
        });
    }
});
