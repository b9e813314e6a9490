// Java's own verdicts for the policy's differential test (policy/tests/java_differential/).
// Reads one request per line on stdin and answers one line each on stdout; fields are
// base64 (UTF-8), so patterns and inputs may hold any character, line terminators included.
//
//   m <pattern> <input>  ->  match | nomatch | refused <message>   (Pattern.compile + matches())
//                            | error <message> (matching threw: Java 17 compiles some classes,
//                            such as [[a]b&&], into a predicate that throws when it runs)
//   s <pattern>          ->  set <ranges> | refused <message>      (the code points c of DOMAIN
//                            for which the one-character string of c matches, as hex ranges
//                            a-b,...; surrogates are skipped, as no test input can hold one)
//   u                    ->  the Character data the policy's Unicode tables are compared with:
//                            "type <from> <to> <type>" runs, "case <c> <upper> <lower>" for every
//                            code point that changes case, then "end"
//   v                    ->  version <java.version>
//
// A message is base64 too. Compiled patterns are kept, since a corpus asks many inputs of one.
// Requests are answered in parallel (each on its own Matcher) and written in their order.

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;
import java.util.stream.IntStream;

public final class RegexOracle {
    private static final Base64.Decoder DECODE = Base64.getDecoder();
    private static final Base64.Encoder ENCODE = Base64.getEncoder();

    /** A compiled pattern, or why Java refused it. */
    private record Compiled(Pattern pattern, String refusal) {}

    private final Map<String, Compiled> cache = new ConcurrentHashMap<>();

    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        List<String> requests = in.lines().filter(line -> !line.isEmpty()).toList();
        RegexOracle oracle = new RegexOracle();
        String[] answers = IntStream.range(0, requests.size())
            .parallel()
            .mapToObj(i -> oracle.answer(requests.get(i)))
            .toArray(String[]::new);
        BufferedWriter out = new BufferedWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8), 1 << 16);
        for (String answer : answers) {
            out.write(answer);
            out.write('\n');
        }
        out.flush();
    }

    private String answer(String request) {
        String[] fields = request.split(" ", -1);
        return switch (fields[0]) {
            case "m" -> failing(() -> matches(text(fields[1]), text(fields[2])));
            case "s" -> failing(() -> set(text(fields[1])));
            case "u" -> characterData();
            case "v" -> "version " + System.getProperty("java.version");
            default -> throw new IllegalArgumentException("unknown request: " + fields[0]);
        };
    }

    /** The answer, or "error <message>" when computing it threw. */
    private static String failing(java.util.function.Supplier<String> answer) {
        try {
            return answer.get();
        } catch (RuntimeException | StackOverflowError e) {
            return "error " + ENCODE.encodeToString(String.valueOf(e).getBytes(StandardCharsets.UTF_8));
        }
    }

    private static String text(String base64) {
        return new String(DECODE.decode(base64), StandardCharsets.UTF_8);
    }

    private static String refused(String message) {
        return "refused " + ENCODE.encodeToString(message.getBytes(StandardCharsets.UTF_8));
    }

    private Compiled compile(String regex) {
        return cache.computeIfAbsent(regex, r -> {
            try {
                return new Compiled(Pattern.compile(r), null);
            } catch (PatternSyntaxException e) {
                return new Compiled(null, e.getDescription());
            }
        });
    }

    /** What String.matches says; Pattern.compile(r).matcher(s).matches() is its definition. */
    private String matches(String regex, String input) {
        Compiled compiled = compile(regex);
        if (compiled.refusal != null) {
            return refused(compiled.refusal);
        }
        return compiled.pattern.matcher(input).matches() ? "match" : "nomatch";
    }

    /**
     * The code points set comparisons cover: every plane with assigned characters (0-3, 14)
     * and the ends of the private-use planes 15 and 16, which are uniform in between.
     */
    private static final int[][] DOMAIN = {
        {0x0, 0x3FFFF}, {0xE0000, 0xE0FFF}, {0xF0000, 0xF00FF}, {0x10FF00, 0x10FFFF},
    };

    /** The one-character strings of DOMAIN, built once for all set requests. */
    private static int[] domainCodePoints;
    private static String[] domainStrings;

    static {
        buildDomain();
    }

    private static void buildDomain() {
        int count = 0;
        for (int[] segment : DOMAIN) {
            count += segment[1] - segment[0] + 1;
        }
        domainCodePoints = new int[count];
        domainStrings = new String[count];
        int i = 0;
        for (int[] segment : DOMAIN) {
            for (int c = segment[0]; c <= segment[1]; c++) {
                if (c < 0xD800 || c > 0xDFFF) {
                    domainCodePoints[i] = c;
                    domainStrings[i++] = new String(Character.toChars(c));
                }
            }
        }
        domainCodePoints = java.util.Arrays.copyOf(domainCodePoints, i);
        domainStrings = java.util.Arrays.copyOf(domainStrings, i);
    }

    private String set(String regex) {
        Compiled compiled = compile(regex);
        if (compiled.refusal != null) {
            return refused(compiled.refusal);
        }
        Matcher matcher = compiled.pattern.matcher("");
        StringBuilder ranges = new StringBuilder();
        int start = -1;
        int last = -1;
        for (int i = 0; i < domainStrings.length; i++) {
            int c = domainCodePoints[i];
            if (matcher.reset(domainStrings[i]).matches()) {
                if (start < 0) {
                    start = c;
                }
                last = c;
            } else if (start >= 0) {
                ranges.append(ranges.length() > 0 ? "," : "")
                    .append(Integer.toHexString(start)).append('-').append(Integer.toHexString(last));
                start = -1;
            }
        }
        if (start >= 0) {
            ranges.append(ranges.length() > 0 ? "," : "")
                .append(Integer.toHexString(start)).append('-').append(Integer.toHexString(last));
        }
        return "set " + ranges;
    }

    private static String characterData() {
        StringBuilder out = new StringBuilder();
        int start = 0;
        int type = Character.getType(0);
        for (int c = 1; c <= Character.MAX_CODE_POINT + 1; c++) {
            int t = c <= Character.MAX_CODE_POINT ? Character.getType(c) : -1;
            if (t != type) {
                out.append("type ").append(Integer.toHexString(start)).append(' ')
                    .append(Integer.toHexString(c - 1)).append(' ').append(type).append('\n');
                start = c;
                type = t;
            }
        }
        for (int c = 0; c <= Character.MAX_CODE_POINT; c++) {
            int upper = Character.toUpperCase(c);
            int lower = Character.toLowerCase(c);
            if (upper != c || lower != c) {
                out.append("case ").append(Integer.toHexString(c)).append(' ')
                    .append(Integer.toHexString(upper)).append(' ')
                    .append(Integer.toHexString(lower)).append('\n');
            }
        }
        return out.append("end").toString();
    }
}
