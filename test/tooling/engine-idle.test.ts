import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { patchSceneGraph, patchWorker } from '../../scripts/lib/engine-idle';

const read = (pkg: string, file: string): string => fs.readFileSync(path.join(path.dirname(require.resolve(`${pkg}/package.json`)), file), 'utf8');

describe('simulator engine idle patches (scripts/lib/engine-idle.ts)', () => {
    it('apply to the installed brs-engine worker: wait(), the engine sleep and Sleep() block instead of spinning', () => {
        const code = read('brs-engine', 'lib/brs.worker.js');
        const r = patchWorker(code, {});
        assert.equal(r.skipped, undefined);
        assert.deepEqual(r.applied, ['roMessagePort.wait', 'engine sleep', 'Sleep()']);
        assert.ok(r.code.includes('Atomics.wait(globalThis.__simIdleView'));
        assert.ok(!r.code.includes('for(e+=performance.now();performance.now()<e;);'), 'the spinning sleep is gone');
        // The patched script still parses.
        assert.doesNotThrow(() => new Function(r.code));
    });

    it('apply to the installed brs-scenegraph: the frame pacing sleeps instead of spinning', () => {
        const r = patchSceneGraph(read('brs-scenegraph', 'lib/brs-sg.js'), {});
        assert.equal(r.skipped, undefined);
        assert.deepEqual(r.applied, ['SceneGraph frame pacing']);
        assert.ok(!r.code.includes('for(;h-this.lastMessage<this.maxMs;)h=Date.now();'));
        assert.doesNotThrow(() => new Function(r.code));
    });

    it('leave a script they do not recognise, and any script with SIM_ENGINE_IDLE=0, unchanged, saying why', () => {
        const other = 'function wait(){for(;;){}}';
        const r = patchWorker(other, {});
        assert.equal(r.code, other);
        assert.deepEqual(r.applied, []);
        assert.match(String(r.skipped), /roMessagePort\.wait: expected once .* found 0 times/);
        const code = read('brs-engine', 'lib/brs.worker.js');
        const off = patchWorker(code, { SIM_ENGINE_IDLE: '0' });
        assert.equal(off.code, code);
        assert.equal(off.skipped, 'SIM_ENGINE_IDLE=0');
    });
});
