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

/// The lazy DFA cache of one regex, in bytes.
///
/// The `regex` default is 2 MiB per regex; a token's regexes share one request, so a smaller
/// cache keeps a 100-line token's memory bounded. URLs are short, so the cache rarely fills.
pub const REGEX_DFA_SIZE_LIMIT: usize = 256 * 1024;

/// The largest compiled program of the one-pass set of a token's URL regexes, in bytes.
///
/// The set duplicates the lines' programs so that a request runs one search instead of one
/// per line. 4 MiB holds the set of 100 ordinary lines many times over; a token whose set
/// would be larger still works, line by line.
pub const SET_SIZE_LIMIT: usize = 4 * 1024 * 1024;

/// The lazy DFA cache of that set, in bytes: one per token, so it may be the `regex`
/// default of 2 MiB.
pub const SET_DFA_SIZE_LIMIT: usize = 2 * 1024 * 1024;

/// At most this many addresses and ranges in a token's `ip` text.
///
/// Each request checks every entry; 1024 covers any hand-kept allow list.
pub const MAX_IP_ENTRIES: usize = 1024;

/// The longest request target (`/path?query`) canonicalisation accepts, in bytes.
///
/// 8 KiB is the request-line limit of common servers and proxies (Apache, nginx, Tomcat
/// defaults), so a longer target would be refused upstream anyway.
pub const MAX_TARGET_LEN: usize = 8192;
