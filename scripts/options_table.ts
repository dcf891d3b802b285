/**
 * Prints the server's and the client's options as Markdown tables, for the README:
 * `deno run scripts/options_table.ts`.
 *
 * @module
 */

import type { OptionSpec } from "../lib/config/flags.ts";
import { CLIENT_OPTIONS } from "../lib/config/client_config.ts";
import { SERVER_OPTIONS } from "../lib/config/server_config.ts";

/** One Markdown table of options. */
export function optionsTable(specs: readonly OptionSpec[]): string {
  const rows = ["| flag | env | default | meaning |", "| --- | --- | --- | --- |"];
  for (const spec of specs) {
    const value = spec.kind === "bool" ? "" : spec.kind === "int" ? " N" : " VALUE";
    rows.push(
      `| \`--${spec.flag}${value}\` | ${spec.env ? `\`${spec.env}\`` : ""} | ${
        spec.default === undefined ? "" : `\`${spec.default}\``
      } | ${spec.help} |`,
    );
  }
  return rows.join("\n");
}

if (import.meta.main) {
  console.log("Server:\n\n" + optionsTable(SERVER_OPTIONS));
  console.log("\nClient:\n\n" + optionsTable(CLIENT_OPTIONS));
}
