package sluice.mock;

import java.util.List;

/**
 * The mock "tokenizer" and "model". Deliberately trivial so every test can predict the numbers:
 * <ul>
 *   <li>prompt tokens = whitespace-separated words ({@link Character#isWhitespace}) over all prompt
 *       texts, at least 1 per request;</li>
 *   <li>seed = {@code promptText.hashCode() & 0x7fffffff}, where promptText is the prompt texts joined
 *       with {@code "\n"};</li>
 *   <li>token i = {@code VOCAB[(seed + i) % VOCAB.length]}, preceded by a space except for i = 0, so
 *       the streamed tokens concatenate to exactly the non-streamed content.</li>
 * </ul>
 */
final class Tokens {

    static final List<String> VOCAB = List.of(
            "the", "quick", "brown", "fox", "jumps", "over", "a", "lazy",
            "dog", "while", "small", "red", "cat", "sits", "on", "warm",
            "mat", "near", "old", "stone", "mill", "by", "river", "where",
            "water", "flows", "through", "sluice", "gate", "into", "green", "valley",
            "under", "blue", "sky", "and", "birds", "sing", "softly", "every",
            "morning", "light", "falls", "across", "quiet", "fields", "of", "golden",
            "wheat", "as", "cluster", "nodes", "run", "batch", "jobs", "that",
            "stream", "tokens", "back", "to", "eager", "users", "all", "day");

    // Precomputed so generating a token never allocates.
    private static final String[] FIRST = VOCAB.toArray(String[]::new);
    private static final String[] LATER = VOCAB.stream().map(w -> " " + w).toArray(String[]::new);

    private Tokens() {
    }

    static int countWords(CharSequence text) {
        int words = 0;
        boolean inWord = false;
        for (int i = 0; i < text.length(); i++) {
            boolean space = Character.isWhitespace(text.charAt(i));
            if (!space && !inWord) {
                words++;
            }
            inWord = !space;
        }
        return words;
    }

    static int seed(String promptText) {
        return promptText.hashCode() & 0x7fffffff;
    }

    static String token(int seed, int index) {
        int word = (int) ((seed + (long) index) % FIRST.length);
        return index == 0 ? FIRST[word] : LATER[word];
    }

    static String text(int seed, int count) {
        StringBuilder text = new StringBuilder(count * 7);
        for (int i = 0; i < count; i++) {
            text.append(token(seed, i));
        }
        return text.toString();
    }

    /**
     * An 8-dimensional unit vector derived from the text alone (SplitMix64 over its hash), so equal
     * texts embed equally and different texts almost surely differ.
     */
    static float[] embedding(String text) {
        float[] vector = new float[8];
        long state = text.hashCode();
        double norm = 0;
        for (int i = 0; i < vector.length; i++) {
            state += 0x9E3779B97F4A7C15L;
            long z = state;
            z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
            z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
            z ^= z >>> 31;
            vector[i] = (float) ((z >>> 40) / (double) (1L << 24) * 2 - 1);
            norm += vector[i] * (double) vector[i];
        }
        double scale = norm == 0 ? 1 : 1 / Math.sqrt(norm);
        for (int i = 0; i < vector.length; i++) {
            vector[i] = (float) (vector[i] * scale);
        }
        return vector;
    }
}
