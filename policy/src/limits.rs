//! The bounds the policy puts on what a token may contain and what a request may be.
//! Every bound is a named constant here, so it is found, justified and changed in one place.

/// At most this many non-blank restriction lines per token.
///
/// Real tokens have a handful of lines; the benchmark uses 100 and must pass. Each line is
/// tried in turn for every request, so the bound caps the per-request cost at a few hundred
/// small regex searches and the compiled size of a token at `MAX_LINES * REGEX_SIZE_LIMIT`.
pub const MAX_LINES: usize = 256;

/// At most this many characters in one restriction line (after trimming).
///
/// A URL regex plus a few conditions fits in a few hundred characters; 2048 leaves room
/// for long alternations while keeping a pasted document from being compiled as a regex.
pub const MAX_LINE_CHARS: usize = 2048;

/// How deeply groups, classes and repetitions may nest in one regex.
///
/// Hand-written URL patterns nest two or three levels; 32 is far beyond that and keeps the
/// regex parser's recursion (and stack use inside a 1 MiB wasm stack) small.
pub const REGEX_NEST_LIMIT: u32 = 32;

/// The largest one regex may be, in NFA units: a state plus each of its transitions or
/// alternatives. The same compiler counts them on every platform, so native code, wasm32
/// and the browser refuse the same regexes (a size in bytes differs with the pointer
/// width). Compiled on 64-bit, a unit takes 30 to 70 bytes.
///
/// `.*/rest/api/space/KEY/property.*` has 77 units (`.` is Unicode-aware) and
/// `[a-z]{1,100}` 404; 5000 admits generous counted repetitions such as `.{1,100}.{1,100}`
/// (4201).
pub const REGEX_SIZE_LIMIT: usize = 5000;

/// The units all of a token's regexes (URLs and conditions) may have together; each gets
/// an equal share, at most `REGEX_SIZE_LIMIT`.
///
/// Without it, `MAX_LINES` lines of `.{1,60}.{1,60}` (2524 units each) compile to 57 MiB
/// in about a second and exhaust a host's policy instance. 80,000 units are about 4 MiB
/// compiled; an ordinary line has under 100, so `MAX_LINES` of them fit their shares of
/// 312, and tokens of up to 16 regexes get the whole `REGEX_SIZE_LIMIT`.
pub const TOKEN_REGEX_BUDGET: usize = 80_000;

/// Bytes per unit the compilers' own size limits allow: over ten times any measured (72),
/// so only the unit count, the same everywhere, decides what is refused, while a huge
/// regex is still stopped before it is built whole.
pub const BYTES_PER_UNIT_BOUND: usize = 1024;

/// The lazy DFA cache of one regex, in bytes, at most; each regex gets an equal share of
/// what `TOKEN_DFA_BUDGET` leaves after the set's cache.
///
/// The `regex` default is 2 MiB per regex. A cache only grows as searches need states, but
/// a hostile token fills them all: 512 regexes of 256 KiB would be 128 MiB, twice a host's
/// whole policy instance. So the caches are shared out like the NFA units.
pub const REGEX_DFA_SIZE_LIMIT: usize = 256 * 1024;

/// A regex whose share is below this runs without a lazy DFA (in the engine's bounded
/// backtracker or PikeVM: the same answers).
///
/// Measured with hostile conditions (`[\x00-\x7f]*a[\x00-\x7f]{9}` on random `a`/`b`
/// values, `benches/decide.rs`): a small cache fills, is cleared and rebuilt until the
/// engine gives up on it, which made decisions 2 to 7 times slower than no lazy DFA at all
/// (18 ms instead of 3.7 ms natively with 48 regexes of 32 KiB each). Only tokens of up to 24
/// regexes, whose caches hold enough states to pay off, get one.
pub const REGEX_DFA_MIN_SIZE: usize = 128 * 1024;

/// What the lazy DFA caches of all of a token's regexes (its URL set's included) may hold
/// together, in bytes. With `TOKEN_REGEX_BUDGET` (about 4 MiB compiled) and `SET_SIZE_LIMIT`
/// it bounds a token's memory to a fraction of a host's policy instance (64 MiB).
///
/// The set takes `SET_DFA_SIZE_LIMIT`; each regex an equal share of the other 3 MiB, at
/// most `REGEX_DFA_SIZE_LIMIT` and none below `REGEX_DFA_MIN_SIZE`: tokens of up to 12
/// regexes get 256 KiB each, of 13 to 24 regexes 128 to 236 KiB, larger ones none.
pub const TOKEN_DFA_BUDGET: usize = 4 * 1024 * 1024;

/// The largest compiled program of the one-pass set of a token's URL regexes, in bytes.
///
/// The set duplicates the lines' programs so that a request runs one search instead of one
/// per line. 4 MiB holds the set of 100 ordinary lines many times over; a token whose set
/// would be larger still works, line by line.
pub const SET_SIZE_LIMIT: usize = 4 * 1024 * 1024;

/// The lazy DFA cache of that set, in bytes; part of `TOKEN_DFA_BUDGET`. It sees one URL
/// per request, so it needs far fewer states than its 1 MiB holds (the `regex` default,
/// used before, was 2 MiB).
pub const SET_DFA_SIZE_LIMIT: usize = 1024 * 1024;

/// At most this many values of one query parameter a `[QueryParam::…]` condition reads;
/// with more, the condition does not hold (fail closed) and the deny detail says why.
///
/// Every value must match (see `Condition`), so the cost of a condition grows with the
/// values; real clients repeat a parameter a few times at most.
pub const MAX_CONDITION_VALUES: usize = 16;

/// At most this many bytes a condition matches: the decoded values of its query parameter
/// together, or its JSON scalar. Over it, the condition does not hold (fail closed) and the
/// deny detail says why. Tokens whose condition regexes are large together read less, see
/// `CONDITION_WORK_BUDGET`.
pub const MAX_CONDITION_BYTES: usize = 1024;

/// What all of a token's conditions may cost one decision, in NFA units times bytes
/// matched: each condition reads at most this divided by the units of all the token's
/// condition regexes together (and at most `MAX_CONDITION_BYTES`).
///
/// Why units: a regex without a lazy DFA (or whose DFA gives up, as that of
/// `[\x00-\x7f]*a[\x00-\x7f]{9}` on random `a`/`b` text does) runs in the engine's
/// backtracker or PikeVM at up to its units of work per byte. A fixed byte bound would let
/// 16 lines of 5000-unit conditions cost 80,000 units per byte read (120 ms natively for
/// 1 KiB). Measured (`hostile` in `benches/decide.rs`): about 8 ns per unit and byte, so
/// the costliest request within this budget decides in about 8 ms natively, 12 ms right
/// after the token was compiled. Ordinary conditions have 10 to 50 units (`ABC` 10,
/// `body.*` 32, `[A-Z]{1,10}` 44), so tokens with dozens of them still read the whole
/// `MAX_CONDITION_BYTES`; `[a-zA-Z0-9_-]{1,255}` (2299 units) alone reads 434 bytes.
pub const CONDITION_WORK_BUDGET: usize = 1_000_000;

/// At most this many addresses and ranges in a token's `ip` text.
///
/// Each request checks every entry; 1024 covers any hand-kept allow list.
pub const MAX_IP_ENTRIES: usize = 1024;

/// The longest request target (`/path?query`) canonicalisation accepts, in bytes.
///
/// 8 KiB is the request-line limit of common servers and proxies (Apache, nginx, Tomcat
/// defaults), so a longer target would be refused upstream anyway.
pub const MAX_TARGET_LEN: usize = 8192;
