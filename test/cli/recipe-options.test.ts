import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../../cli/errors';
import {
  applySets,
  closeMatches,
  describePoint,
  expandGrid,
  loadConfigFile,
  parseAssignment,
  parseGridAxis,
  pointInput,
  resolveKey,
  splitTopLevel,
  validateRecipe,
} from '../../cli/recipe-options';

describe('--set parsing', () => {
  it('resolves full paths, unambiguous suffixes and aliases', () => {
    expect(resolveKey('online.beta')).toBe('online.beta');
    expect(resolveKey('beta')).toBe('online.beta');
    expect(resolveKey('lr')).toBe('online.learningRate');
    expect(resolveKey('hidden_size')).toBe('models.demo.hidden_size');
    expect(resolveKey('learningRate')).toBe('online.learningRate'); // ambiguous suffix: the online stage wins
    expect(() => resolveKey('maxDigits')).toThrow(UsageError);
  });
  it('names close matches for unknown keys', () => {
    expect(() => resolveKey('bta')).toThrow("unknown option 'bta' (did you mean online.beta?)");
    expect(() => resolveKey('online.iteration')).toThrow(/did you mean online\.iterations/);
    expect(closeMatches('temperature')).toContain('online.temperatures');
    expect(() => resolveKey('online')).toThrow(/is a group, not a value/);
  });
  it('parses values by the type of the default', () => {
    expect(parseAssignment('beta=0.2')).toEqual(['online.beta', 0.2]);
    expect(parseAssignment('online.temperatures=1.0,0.7')).toEqual(['online.temperatures', [1, 0.7]]);
    expect(parseAssignment('online.temperatures=[1]')).toEqual(['online.temperatures', [1]]);
    expect(parseAssignment('online.stopStrings=a,b')).toEqual(['online.stopStrings', ['a', 'b']]);
    expect(parseAssignment('searchAttributes=false')).toEqual(['execution.searchAttributes', false]);
    expect(parseAssignment('models.base=null')).toEqual(['models.base', null]);
    expect(parseAssignment('data.task=sort-digits')).toEqual(['data.task', 'sort-digits']);
    expect(() => parseAssignment('beta=abc')).toThrow("online.beta expects a number, got 'abc'");
    expect(() => parseAssignment('beta')).toThrow("--set expects key=value, got 'beta'");
    expect(() => parseAssignment('searchAttributes=yes')).toThrow('expects true or false');
  });
  it('applies sets over a base input without touching it', () => {
    const base = { online: { k: 8 } };
    const out = applySets(base, ['beta=0.3', 'iterations=3']);
    expect(out).toEqual({ online: { k: 8, beta: 0.3, iterations: 3 } });
    expect(base).toEqual({ online: { k: 8 } });
    expect(validateRecipe(out).online.beta).toBe(0.3);
  });
  it('reports schema problems in one line with close matches', () => {
    expect(() => validateRecipe({ online: { beta: -1 } })).toThrow('invalid options: online.beta must be > 0 (got -1)');
    expect(() => validateRecipe({ online: { bta: 1 } } as never)).toThrow(/unknown option 'online\.bta' \(did you mean online\.beta\?\)/);
  });
});

describe('config files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rlhf-cli-'));
  it('reads JSON and YAML (also wrapped as {recipe})', async () => {
    writeFileSync(join(dir, 'a.json'), '{"online": {"beta": 0.2}}');
    writeFileSync(join(dir, 'b.yaml'), 'online:\n  beta: 0.3\n  temperatures: [1.0]\n');
    writeFileSync(join(dir, 'c.yml'), 'recipe:\n  seed: 7\n');
    expect(await loadConfigFile(join(dir, 'a.json'))).toEqual({ online: { beta: 0.2 } });
    expect(await loadConfigFile(join(dir, 'b.yaml'))).toEqual({ online: { beta: 0.3, temperatures: [1] } });
    expect(await loadConfigFile(join(dir, 'c.yml'))).toEqual({ seed: 7 });
  });
  it('fails in one line for missing, unparsable or wrong-type files', async () => {
    await expect(loadConfigFile(join(dir, 'none.yaml'))).rejects.toThrow(`config file ${join(dir, 'none.yaml')}: not found`);
    writeFileSync(join(dir, 'bad.json'), '{"online": ');
    await expect(loadConfigFile(join(dir, 'bad.json'))).rejects.toThrow(/bad\.json: invalid JSON/);
    writeFileSync(join(dir, 'list.yaml'), '- 1\n- 2\n');
    await expect(loadConfigFile(join(dir, 'list.yaml'))).rejects.toThrow(/expected an object of recipe options/);
    writeFileSync(join(dir, 'x.toml'), 'a = 1');
    await expect(loadConfigFile(join(dir, 'x.toml'))).rejects.toThrow(/expected a \.json, \.yaml or \.yml file/);
  });
});

describe('sweep grids', () => {
  it('splits lists at top-level commas only', () => {
    expect(splitTopLevel('1,[1,0.7],"a,b"')).toEqual(['1', '[1,0.7]', '"a,b"']);
  });
  it('parses axes with typed values', () => {
    expect(parseGridAxis('beta=0.05,0.1,0.3')).toEqual({ path: 'online.beta', values: [0.05, 0.1, 0.3] });
    expect(parseGridAxis('temperatures=[1.0],[1.0,0.7]')).toEqual({ path: 'online.temperatures', values: [[1], [1, 0.7]] });
    expect(parseGridAxis('reference=sft,previous')).toEqual({ path: 'online.reference', values: ['sft', 'previous'] });
  });
  it('rejects bad grid syntax in one line', () => {
    expect(() => parseGridAxis('beta')).toThrow("--grid expects key=v1,v2,..., got 'beta'");
    expect(() => parseGridAxis('beta=')).toThrow('--grid expects key=v1,v2,...');
    expect(() => parseGridAxis('=1,2')).toThrow('--grid expects key=v1,v2,...');
    expect(() => parseGridAxis('beta=0.1,,0.2')).toThrow('empty value');
    expect(() => parseGridAxis('beta=0.1,0.1')).toThrow('repeated value');
    expect(() => parseGridAxis('beta=x,0.1')).toThrow("online.beta expects a number, got 'x'");
    expect(() => parseGridAxis('betta=1,2')).toThrow(/unknown option 'betta' \(did you mean online\.beta/);
  });
  it('expands the cartesian product, first axis slowest', () => {
    const points = expandGrid([parseGridAxis('beta=0.05,0.1'), parseGridAxis('lr=1e-4,5e-5')]);
    expect(points).toEqual([
      { 'online.beta': 0.05, 'online.learningRate': 1e-4 },
      { 'online.beta': 0.05, 'online.learningRate': 5e-5 },
      { 'online.beta': 0.1, 'online.learningRate': 1e-4 },
      { 'online.beta': 0.1, 'online.learningRate': 5e-5 },
    ]);
    expect(expandGrid([parseGridAxis('beta=1,2'), parseGridAxis('k=2,4'), parseGridAxis('seed=1,2,3')])).toHaveLength(12);
    expect(() => expandGrid([parseGridAxis('beta=1,2'), parseGridAxis('online.beta=3')])).toThrow('--grid names online.beta twice');
    expect(describePoint(points[1]!)).toBe('beta=0.05 learningRate=0.00005');
    expect(pointInput({ online: { k: 8 } }, points[0]!)).toEqual({ online: { k: 8, beta: 0.05, learningRate: 1e-4 } });
  });
});
