import { describe, expect, it } from "vitest";
import { eventRow } from "../../test/support/event-row";
import { rowAwaitingVisitor, VISITOR_PLACEHOLDER } from "./buffer";

describe("rowAwaitingVisitor", () => {
  const cases = [
    { name: "a row from prepareBatch (no visitor id yet)", row: eventRow() },
    { name: "a row that already carries a visitor id (it is replaced)", row: eventRow({ visitor_id: "v_old" }) },
    { name: "a row with a null visitor id", row: eventRow({ visitor_id: null }) },
  ];
  for (const t of cases) {
    it(t.name, () => {
      const json = rowAwaitingVisitor(t.row);
      // The ingest script replaces exactly this ending; the key occurs nowhere else.
      expect(json.endsWith(VISITOR_PLACEHOLDER)).toBe(true);
      expect(json.split('"visitor_id"').length).toBe(2);
      expect(JSON.parse(json)).toEqual({ ...t.row, visitor_id: null });
    });
  }
});
