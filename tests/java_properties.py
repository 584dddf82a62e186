"""Parse a rendered .properties file with Java's own java.util.Properties (what Spark and Kafka use)."""

import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.required_tools import missing_tool

DUMPER = Path(__file__).resolve().parent / "java" / "PropertiesDump.java"


def parse_with_java(text: str) -> dict[str, str]:
    java = shutil.which("java")
    if java is None:
        missing_tool("java not installed (apt-get install openjdk-17-jre-headless)")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "rendered.properties"
        path.write_text(text)
        result = subprocess.run([java, str(DUMPER), str(path)], capture_output=True, text=True, check=True, timeout=120)
    return dict(line.split("\t", 1) for line in result.stdout.splitlines())
