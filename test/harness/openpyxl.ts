/**
 * Reads an xlsx file with an implementation that shares no code with the writer: Debian's
 * python3-openpyxl, run by Debian's own interpreter. `/usr/bin/python3` is named explicitly because
 * the `python3` first on PATH may be a pyenv or venv interpreter without Debian's modules.
 *
 * The dump is what a reader of the report sees: sheets, cell values with their data types (`s` text,
 * `n` number, `d` date, `f` formula), number formats, fonts and fills of header cells, freeze panes,
 * the autofilter range, column widths, images, and — from a second load with `data_only=True` — the
 * cached results of formulas, which is what a reader that does not recalculate shows.
 */
import { execFile, execFileSync } from 'node:child_process';

export const DEBIAN_PYTHON = '/usr/bin/python3';

export interface DumpedCell {
  coordinate: string;
  /** Formula text (`=SUM(B2:B9)`) for formula cells; dates as ISO strings. */
  value: string | number | boolean | null;
  /** openpyxl's data type: `s`, `n`, `d`, `b`, `f`, `e`. */
  type: string;
  /** The value a non-recalculating reader shows (cached formula result). */
  cached: string | number | boolean | null;
  numberFormat: string;
  bold: boolean;
  /** Solid fill colour (`FF1F5A96`), if any. */
  fill: string | null;
}

export interface DumpedImage {
  /** Top-left cell of the anchor, e.g. `H4`. */
  anchor: string;
  /** Displayed size in pixels, from the anchor's extent. */
  width: number | null;
  height: number | null;
  /** Size of the picture itself. */
  pixelWidth: number;
  pixelHeight: number;
  format: string;
}

export interface DumpedSheet {
  name: string;
  freezePanes: string | null;
  autoFilter: string | null;
  maxRow: number;
  maxColumn: number;
  /** Widths of columns that have one, by letter. */
  columnWidths: Record<string, number>;
  images: DumpedImage[];
  /** Rows from the first, at most `maxRows` of them; each row's cells from column A. */
  rows: DumpedCell[][];
}

export interface XlsxDump {
  /** What openpyxl warned about while reading (e.g. parts it could not understand and dropped). */
  warnings: string;
  /** Without Pillow openpyxl silently drops images; image assertions need this to be true. */
  pillow: boolean;
  properties: {
    creator: string | null;
    title: string | null;
    created: string | null;
    modified: string | null;
  };
  sheets: DumpedSheet[];
}

const SCRIPT = String.raw`
import json, sys, datetime
import openpyxl
from openpyxl.utils import get_column_letter
try:
    import PIL  # noqa: F401
    pillow = True
except ImportError:
    pillow = False

path, max_rows = sys.argv[1], int(sys.argv[2])

def plain(v):
    if isinstance(v, (datetime.datetime, datetime.date, datetime.time)):
        return v.isoformat()
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return str(v)

formulas = openpyxl.load_workbook(path)
cached = openpyxl.load_workbook(path, data_only=True)
props = formulas.properties
out = {
    "pillow": pillow,
    "properties": {
        "creator": props.creator,
        "title": props.title,
        "created": plain(props.created),
        "modified": plain(props.modified),
    },
    "sheets": [],
}
for ws in formulas.worksheets:
    wc = cached[ws.title]
    rows = []
    for r, row in enumerate(ws.iter_rows(min_row=1, max_row=min(ws.max_row, max_rows))):
        cells = []
        for cell in row:
            fill = None
            if cell.fill is not None and cell.fill.fill_type == "solid":
                fill = cell.fill.fgColor.rgb if isinstance(cell.fill.fgColor.rgb, str) else None
            cells.append({
                "coordinate": cell.coordinate,
                "value": plain(cell.value),
                "type": cell.data_type,
                "cached": plain(wc[cell.coordinate].value),
                "numberFormat": cell.number_format,
                "bold": bool(cell.font and cell.font.b),
                "fill": fill,
            })
        rows.append(cells)
    images = []
    for img in ws._images:
        anchor = img.anchor
        frm = getattr(anchor, "_from", None)
        cell = get_column_letter(frm.col + 1) + str(frm.row + 1) if frm is not None else str(anchor)
        ext = getattr(anchor, "ext", None)
        images.append({
            "anchor": cell,
            "width": round(ext.width / 9525) if ext is not None else None,
            "height": round(ext.height / 9525) if ext is not None else None,
            "pixelWidth": img.width,
            "pixelHeight": img.height,
            "format": img.format,
        })
    widths = {}
    for letter, dim in ws.column_dimensions.items():
        if dim.width:
            widths[letter] = dim.width
    out["sheets"].append({
        "name": ws.title,
        "freezePanes": ws.freeze_panes,
        "autoFilter": ws.auto_filter.ref,
        "maxRow": ws.max_row,
        "maxColumn": ws.max_column,
        "columnWidths": widths,
        "images": images,
        "rows": rows,
    })
json.dump(out, sys.stdout)
`;

let availability: string | true | undefined;

/** `true` when Debian's openpyxl can be run, else the reason it cannot. */
export function openpyxlAvailability(): string | true {
  if (availability === undefined) {
    try {
      execFileSync(DEBIAN_PYTHON, ['-c', 'import openpyxl'], { stdio: 'pipe', timeout: 30_000 });
      availability = true;
    } catch (error) {
      availability = `${DEBIAN_PYTHON} cannot import openpyxl (apt install python3-openpyxl): ${(error as Error).message.split('\n')[0]}`;
    }
  }
  return availability;
}

/**
 * Whether tests that read workbooks back with openpyxl should be skipped: never on CI (there a
 * missing openpyxl throws, so the suite fails instead of passing without having checked anything);
 * elsewhere they are skipped with a printed notice.
 */
export function skipWithoutOpenpyxl(): boolean {
  const available = openpyxlAvailability();
  if (available === true) return false;
  if (process.env.CI === 'true') throw new Error(`openpyxl is required on CI: ${available}`);
  console.warn(`[openpyxl] skipping workbook read-back tests: ${available}`);
  return true;
}

/** Reads `path` with openpyxl and returns what it sees. */
export function dumpXlsx(path: string, options: { maxRows?: number } = {}): Promise<XlsxDump> {
  return new Promise((resolve, reject) => {
    execFile(
      DEBIAN_PYTHON,
      ['-c', SCRIPT, path, String(options.maxRows ?? 500)],
      { maxBuffer: 256 * 1024 * 1024, timeout: 120_000 },
      (error, stdout, stderr) => {
        if (error) {
          reject(new Error(`openpyxl could not read ${path}: ${stderr || error.message}`));
          return;
        }
        resolve({ ...(JSON.parse(stdout) as Omit<XlsxDump, 'warnings'>), warnings: stderr });
      },
    );
  });
}

/** The cell at an A1 address in a dumped sheet (within the dumped rows). */
export function cellAt(sheet: DumpedSheet, address: string): DumpedCell | undefined {
  for (const row of sheet.rows) {
    for (const cell of row) if (cell.coordinate === address) return cell;
  }
  return undefined;
}
