import t from 'tap';
import { groupProfile, inlinedAway, nativeFunctionFiles, parsePerfReport, partOf, profileTable } from '../../../perf/report/profile-parts.js';

// As `perf report --stdio --no-children --sort dso,sym -F overhead,dso,sym -t '\t'` prints it.
const REPORT = [
  '# To display the perf.data header info, please use --header/--header-only options.',
  '#',
  '# Samples: 19K of event \'cpu-clock:pppH\'',
  '# Overhead\tShared Object\tSymbol',
  '#',
  '22.61%\tadx_native.node\t[.] compress_block',
  '10.40%\tadx_native.node\t[.] encode_request',
  '2.30%\tadx_native.node\t[.] put_value.part.0',
  '11.80%\t[kernel.kallsyms]\t[k] copy_user_enhanced_fast_string',
  '5.30%\t[kernel.kallsyms]\t[k] __filemap_fdatawrite_range',
  '6.70%\tlibc.so.6\t[.] __memmove_avx_unaligned_erms',
  '3.10%\tperf-4242.map\t[.] LazyCompile:*flush /app/dist/src/wal/wal-writer.js:120',
  '2.00%\tnode\t[.] v8::internal::Heap::Scavenge()',
  '1.50%\tuws_linux_x64_115.node\t[.] us_socket_read',
  '0.40%\tlibstdc++.so.6.0.30\t[.] operator new(unsigned long)',
  '0.20%\tadx_native.node\t[.] something_unknown',
  '',
  'not a row',
].join('\n');

const SOURCES = {
  'snappy-block.h': 'static size_t compress_block(const uint8_t *in, size_t n, uint8_t *out) {\n  static const int x = 1;\n}\n',
  'request-walk.h': '/* the walk */\nstatic int encode_request(Ctx *c, Call *call, const uint8_t *req, size_t req_len) {\n',
  'csv-text.h': 'static uint8_t *put_value(uint8_t *o, double v) {\nstatic const uint8_t NAME_LABEL[] = "__name__";\n',
  'common.h': 'static inline uint64_t rotl64(uint64_t x, int r) { return x; }\n  static int not_at_line_start(void);\n',
};

t.test('perf report rows are parsed; headers and stray lines are not rows', async (t) => {
  const rows = parsePerfReport(REPORT);
  t.equal(rows.length, 11);
  t.same(rows[0], { percent: 22.61, dso: 'adx_native.node', symbol: 'compress_block' });
  t.same(rows[6], { percent: 3.1, dso: 'perf-4242.map', symbol: 'LazyCompile:*flush /app/dist/src/wal/wal-writer.js:120' }, 'the [.] marker goes, spaces in the symbol stay');
});

t.test('native functions are mapped to the file that defines them', async (t) => {
  const files = nativeFunctionFiles(SOURCES);
  t.equal(files.get('compress_block'), 'snappy-block.h');
  t.equal(files.get('encode_request'), 'request-walk.h');
  t.equal(files.get('put_value'), 'csv-text.h');
  t.equal(files.get('rotl64'), 'common.h', 'static inline functions too');
  t.notOk(files.has('NAME_LABEL'), 'static data is not a function');
  t.notOk(files.has('x'), 'nor a static local');
  t.notOk(files.has('not_at_line_start'));
});

t.test('rows are grouped into parts, heaviest first, with their heaviest symbols', async (t) => {
  const files = nativeFunctionFiles(SOURCES);
  const parts = groupProfile(parsePerfReport(REPORT), files, 2);
  t.same(
    parts.map((p) => [p.part, p.percent]),
    [
      ['native/snappy-block.h', 22.61],
      ['kernel', 17.1],
      ['native/request-walk.h', 10.4],
      ['libc', 6.7],
      ['JavaScript (JIT)', 3.1],
      ['native/csv-text.h', 2.3],
      ['Node.js and V8 (C++)', 2],
      ['uWebSockets.js', 1.5],
      ['other', 0.4],
      ['native/(other)', 0.2],
    ],
  );
  t.same(parts[1]!.top, [{ symbol: 'copy_user_enhanced_fast_string', percent: 11.8 }, { symbol: '__filemap_fdatawrite_range', percent: 5.3 }]);
  t.equal(partOf({ percent: 1, dso: 'adx_native.node', symbol: 'put_value.part.0' }, files), 'native/csv-text.h', "GCC's clones count as the function");
  t.equal(partOf({ percent: 1, dso: '[JIT] tid 77', symbol: 'x' }, files), 'JavaScript (JIT)');
  const table = profileTable(parts);
  t.equal(table[0], '| part | % of the samples | heaviest functions |');
  t.equal(table[3], '| kernel | 17.1 % | `copy_user_enhanced_fast_string` 11.8, `__filemap_fdatawrite_range` 5.3 |');
});

t.test('functions without a symbol in the addon are listed as inlined, by file', async (t) => {
  const files = nativeFunctionFiles(SOURCES);
  const inlined = inlinedAway(files, new Set(['compress_block', 'put_value.part.0', 'js_create']));
  t.same(Object.fromEntries(inlined), { 'request-walk.h': ['encode_request'], 'common.h': ['rotl64'] }, 'a clone is the function');
});
