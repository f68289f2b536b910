package sluice.mock;

/** The two completion flavours; they differ only in object names, id prefix and where the text goes. */
enum Kind {
    CHAT("chat.completion", "chat.completion.chunk", "chatcmpl-mock-"),
    TEXT("text_completion", "text_completion", "cmpl-mock-");

    final String object;
    final String chunkObject;
    final String idPrefix;

    Kind(String object, String chunkObject, String idPrefix) {
        this.object = object;
        this.chunkObject = chunkObject;
        this.idPrefix = idPrefix;
    }
}
