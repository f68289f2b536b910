-- The key index replays and follows events by tag (KeyIndex, eventsByTag). The plugin's query joins event_tag on its
-- primary key (event_id, tag), which cannot find one tag's rows without scanning them all
-- (apache/pekko-persistence-jdbc#105): this index leads with the tag.
CREATE INDEX IF NOT EXISTS event_tag_tag_event_id_idx ON event_tag (tag, event_id);
