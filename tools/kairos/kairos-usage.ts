export const EXIT = { ok: 0, refused: 1, usage: 2 } as const;

export const USAGE = `kairos — check, publish and inspect Kairos definitions (segments, journeys, templates)

Usage: kairos <command> [arguments] [--json]

Commands
  validate [dir]          Check a definitions folder; every error with file:line:column.
                            kairos validate definitions/shop
  diff [dir]              What publishing the folder would change on the definitions topic.
                            kairos diff definitions/shop
  publish [dir]           Publish new and changed definitions, each one version up, as one release.
                          Unchanged definitions publish nothing; definitions missing from the folder stay live.
                            kairos publish definitions/shop
  list                    What is live: kind/id, version, status, when and by whom it was published.
                            kairos list --json
  show <kind/id>          One live definition with its version, hash, origin and files.
                            kairos show journey/abandoned-cart
  pause <journey/id>...   A paused journey takes no new entries (running ones go on); resume undoes it.
                            kairos pause journey/win-back
  resume <journey/id>...    kairos resume journey/win-back
  remove <kind/id>...     Tombstone definitions. Refused while something live still names them (remove both).
                            kairos remove journey/birthday template/birthday
  simulate <journey> <events-file> [--dir D] [--until ISO]
                          Run one journey (with the folder's segments) over a JSON array or NDJSON of events on a
                          virtual clock and print step by step what would be sent when, and why. No Kafka, no mail.
                            kairos simulate abandoned-cart definitions/shop/simulations/abandoned-cart.json
  backtest <journey> <export-file> [--dir D] [--until ISO]
                          The same over a recorded export of events (NDJSON): only the report — entries, sends,
                          caps, consent, goals — with progress on stderr.

  preview <template>      Render a template of the folder as dispatch would: subject and text printed, HTML written
          [--profile f.json] [--event f.json] [--out file.html] [--dir folder] [--allow-http] [--locale de-CH] [--time-zone Europe/Zurich]
                          to a file a browser opens, every link and image checked (absolute, well-formed, https).
                          Without --profile/--event, sample values from the template's declared context. No broker needed.
                            kairos preview cart-reminder --profile anna.json --event cart.json

[dir] defaults to $KAIROS_DEFINITIONS_DIR, else ./definitions/shop.
--json prints one JSON document on stdout instead of text, for scripts.

Environment: KAFKA_BROKERS (127.0.0.1:9092), as the services read it; KAIROS_DEFINITIONS_TOPIC (kairos.definitions.v1).

Exit codes
  0  done (valid; published; nothing to publish)
  1  invalid definitions, or a change refused (it would leave the live set inconsistent, or names nothing live)
  2  usage error, unreadable folder, or the broker could not be reached`;
