import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hoistAnonymousFunctions, SIMULATOR_TRANSFORMS } from '../../scripts/lib/sim-transforms';

const transform = (name: string) => {
    const t = SIMULATOR_TRANSFORMS.find((x) => x.name === name);
    assert.ok(t, `transform ${name} exists`);
    return t;
};

describe('simulator transforms', () => {
    it('moves an anonymous observer callback to a named function', () => {
        const src = ['sub watch(node)', '    observe(node, "fire", sub(event)', '        print event', '    end sub)', 'end sub'].join('\n');
        const out = hoistAnonymousFunctions(src, 'p');
        assert.match(out, /observe\(node, "fire", p_anon1\)/);
        assert.match(out, /^sub p_anon1\(event\)\n {8}print event\nend sub$/m);
        assert.doesNotMatch(out, /sub\(event\)/);
    });

    it('hoists nested and chained anonymous functions, keeping what follows them', () => {
        const src = [
            'function f()',
            '    chain(p).then(sub(result, m)',
            '        delay(sub(ctx)',
            '            print ctx',
            '        end sub, { a: 1 })',
            '    end sub).catch(sub(error, m)',
            '        print error',
            '    end sub)',
            '    aa = { run: function() as object',
            '        return m',
            '    end function }',
            '    return aa',
            'end function'
        ].join('\n');
        const out = hoistAnonymousFunctions(src, 'q');
        assert.match(out, /chain\(p\)\.then\(q_anon1\)\.catch\(q_anon3\)/);
        assert.match(out, /delay\(q_anon2, \{ a: 1 \}\)/);
        assert.match(out, /aa = \{ run: q_anon4 \}/);
        assert.match(out, /^function q_anon4\(\) as object$/m);
        // every function opened is closed: as many `end` lines as starts
        const starts = out.split('\n').filter((l) => /^\s*(sub|function)\s+\w+\s*\(/i.test(l)).length;
        const ends = out.split('\n').filter((l) => /^\s*end\s+(sub|function)/i.test(l)).length;
        assert.equal(starts, 5);
        assert.equal(ends, 5);
    });

    it('leaves a file without anonymous functions untouched', () => {
        const src = 'sub main()\n    print "function(x) in a string is not code"\nend sub\n';
        assert.equal(hoistAnonymousFunctions(src, 'r'), src);
    });

    it('rewrites an interface call after two dotted gets into an index get', () => {
        const t = transform('interface-call-after-dotted-get');
        assert.equal(t.apply('x = a.b.ifAssociativeArray.doesExist("k")', 'source/x.brs'), 'x = a["b"].ifAssociativeArray.doesExist("k")');
        assert.equal(t.apply('x = a.ifAssociativeArray.doesExist("k")', 'source/x.brs'), 'x = a.ifAssociativeArray.doesExist("k")');
    });

    it("makes Rooibos wait for a node suite's result on the screen's port", () => {
        const t = transform('rooibos-node-test-port');
        const src = '            port = CreateObject("roMessagePort")\n            node.observeField("rooibosTestResult", port)\n';
        assert.equal(t.applies('source/rooibos/TestRunner.brs'), true);
        assert.equal(t.apply(src, 'source/rooibos/TestRunner.brs'), '            port = m.nodeContext.port\n            node.observeField("rooibosTestResult", port)\n');
    });
});
