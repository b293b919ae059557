"""Break one endpoint of the generated app: the first resource's DELETE
handler no longer deletes (it looks the row up instead). Run from a copy of
the workspace root; the suite must then fail."""
import pathlib
import re
import sys

routers = sorted(pathlib.Path("app/routers").glob("*.py"))
for path in routers:
    text = path.read_text(encoding="utf-8")
    new, n = re.subn(r"(if not await request\.app\.state\.repository\.\w+)\.delete\(", r"\1.get(", text, count=1)
    if n:
        path.write_text(new, encoding="utf-8")
        print(f"broke the DELETE handler in {path}")
        sys.exit(0)
sys.exit("no DELETE handler to break")
