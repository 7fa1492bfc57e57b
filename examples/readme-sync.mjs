// The packages' READMEs show these examples verbatim: a README's code block
// right after `<!-- example: examples/<file> -->` is the file's content.
//   node examples/readme-sync.mjs           rewrites the blocks from the files
//   node examples/readme-sync.mjs --check   exits 1 naming the READMEs that differ
// e2e/packages.test.ts runs the check.
import fs from 'node:fs';
import path from 'node:path';

const MARKER = /<!-- example: (examples\/[\w.-]+) -->\n```(\w+)\n[\s\S]*?```\n/g;

/** READMEs whose example blocks differ from the files; with `write`, fixes them. */
export function syncReadmes(root, { write = false } = {}) {
  const stale = [];
  const readmes = ['packages', 'apps'].flatMap((d) =>
    fs.readdirSync(path.join(root, d)).map((p) => path.join(root, d, p, 'README.md')),
  );
  for (const readme of readmes.filter((f) => fs.existsSync(f))) {
    const text = fs.readFileSync(readme, 'utf8');
    const synced = text.replace(MARKER, (_m, file, lang) => {
      const body = fs.readFileSync(path.join(root, file), 'utf8');
      return `<!-- example: ${file} -->\n\`\`\`${lang}\n${body}\`\`\`\n`;
    });
    if (synced !== text) {
      stale.push(path.relative(root, readme));
      if (write) fs.writeFileSync(readme, synced);
    }
  }
  return stale;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const check = process.argv.includes('--check');
  const stale = syncReadmes(path.resolve(import.meta.dirname, '..'), { write: !check });
  for (const f of stale) console.log(`${check ? 'differs' : 'rewrote'}: ${f}`);
  process.exitCode = check && stale.length > 0 ? 1 : 0;
}
