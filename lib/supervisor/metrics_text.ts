/**
 * Merging the Prometheus text of several workers into one exposition: every sample gets a
 * label naming its worker, and each metric family appears once (its HELP and TYPE lines, then
 * every worker's samples), as the text format requires. Pure code.
 *
 * @module
 */

/** Adds `label="value"` to every sample line of `text` (comment lines are kept as they are). */
export function labelMetrics(text: string, label: string, value: string): string {
  const tag = `${label}="${value.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
  return text.split("\n").map((line) => {
    if (line === "" || line.startsWith("#")) return line;
    const space = line.lastIndexOf(" ");
    const series = line.slice(0, space);
    const brace = series.indexOf("{");
    const labelled = brace < 0
      ? `${series}{${tag}}`
      : `${series.slice(0, brace + 1)}${tag},${series.slice(brace + 1)}`;
    return `${labelled.replace(",}", "}")}${line.slice(space)}`;
  }).join("\n");
}

/**
 * Merges labelled expositions: families in the order they first appear, each with its HELP
 * and TYPE once and the samples of every part.
 *
 * @example
 * ```ts
 * mergeMetrics(["# TYPE a counter\na{worker=\"0\"} 1\n", "# TYPE a counter\na{worker=\"1\"} 2\n"]);
 * // "# TYPE a counter\na{worker=\"0\"} 1\na{worker=\"1\"} 2\n"
 * ```
 */
export function mergeMetrics(parts: readonly string[]): string {
  const families = new Map<string, { head: string[]; samples: string[] }>();
  const familyOf = (name: string) => {
    let family = families.get(name);
    if (!family) families.set(name, family = { head: [], samples: [] });
    return family;
  };
  for (const text of parts) {
    let current = "";
    for (const line of text.split("\n")) {
      if (line === "") continue;
      const comment = /^# (HELP|TYPE) (\S+)/.exec(line);
      if (comment) {
        current = comment[2];
        const family = familyOf(current);
        if (!family.head.some((h) => h.startsWith(`# ${comment[1]} `))) family.head.push(line);
        continue;
      }
      const name = /^[^{ ]+/.exec(line)![0];
      const base = current !== "" && name.startsWith(current) ? current : name;
      familyOf(base).samples.push(line);
    }
  }
  const out: string[] = [];
  for (const { head, samples } of families.values()) out.push(...head, ...samples);
  return out.join("\n") + "\n";
}
