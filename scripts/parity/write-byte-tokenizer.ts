// Writes the engine's byte tokenizer files into a folder (used by make_fixtures.py).
// Usage: npx tsx scripts/parity/write-byte-tokenizer.ts <dir>
import { writeByteTokenizer } from '../../engine/tokenizer/byte';

const dir = process.argv[2];
if (!dir) {
  console.error('usage: write-byte-tokenizer.ts <dir>');
  process.exit(2);
}
writeByteTokenizer(dir);
