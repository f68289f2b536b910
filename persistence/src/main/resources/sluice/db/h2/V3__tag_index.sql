-- The key index replays and follows events by tag (KeyIndex, eventsByTag): an index that leads with the tag.
CREATE INDEX IF NOT EXISTS "event_tag_tag_event_id_idx" ON PUBLIC."event_tag" ("tag", "event_id");
