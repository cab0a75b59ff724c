"""Helpers for the exchange tests: outside RDF readers and small marked bases."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import warnings
import zipfile
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib
from rdflib.compare import isomorphic

from cfkb.model.vocabulary import CFID_NS, CFKB, RDF, RDFS, TLP_LEVELS, Claim, tlp_term

WHEN = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.timezone.utc)
JENA_JARS = Path("/usr/share/java")
# Debian's Jena jars: the commands and what they load at run time. slf4j-nop
# keeps the logging bindings from clashing.
_JENA_CLASSPATH = [
    "jena-arq", "jena-base", "jena-cmds", "jena-core", "jena-iri", "commons-cli", "commons-codec",
    "commons-compress", "commons-csv", "commons-io", "commons-lang3", "commons-logging", "dexx.collection", "gson",
    "guava", "httpclient", "httpclient-cache", "httpcore", "jackson-core", "jackson-databind", "jackson-annotations",
    "jsonld-java", "jakarta.json-api", "protobuf", "slf4j-api", "slf4j-nop", "thrift", "titanium-json-ld",
]

RAPPER_SYNTAX = {"turtle": "turtle", "trig": "trig", "nt": "ntriples", "nq": "nquads"}


def rapper_command() -> list[str]:
    path = shutil.which("rapper")
    if path is None:
        pytest.skip("raptor's rapper is not installed (Debian package raptor2-utils); install it to run this check")
    return [path]


def riot_command(workdir: Path) -> tuple[list[str], bool]:
    """The command that runs Jena's riot, and whether it is Debian's packaged jars.

    Debian's libapache-jena-java ships no ``riot`` script, and its jena-core
    moved the Xerces classes without their message files; a directory with
    those files restores them.
    """
    path = shutil.which("riot")
    if path:
        return [path], False
    java = shutil.which("java")
    if java is None or not (JENA_JARS / "jena-cmds.jar").is_file():
        pytest.skip("Apache Jena's riot is not installed (Debian package libapache-jena-java, or a Jena"
                    " distribution on PATH); install it to run this check")
    fix = workdir / "jena-xerces-messages"
    if not fix.is_dir():
        with zipfile.ZipFile(JENA_JARS / "jena-core.jar") as jar:
            for name in jar.namelist():
                if name.startswith("org/apache/jena/ext/xerces/") and name.endswith(".properties"):
                    target = fix / name.removeprefix("org/apache/jena/ext/")
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(jar.read(name))
    jars = [str(JENA_JARS / f"{j}.jar") for j in _JENA_CLASSPATH if (JENA_JARS / f"{j}.jar").is_file()]
    return [java, "-cp", ":".join([str(fix), *jars]), "riotcmd.riot"], True


def read_with_rapper(path: Path, fmt: str) -> str:
    if fmt == "jsonld":
        pytest.skip("raptor 2 has no JSON-LD parser; rdflib, pyoxigraph and Jena check this format")
    cmd = rapper_command() + ["-q", "-i", RAPPER_SYNTAX[fmt], "-o", "nquads", str(path), "https://example.org/base"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def read_with_riot(path: Path, fmt: str, workdir: Path) -> str:
    cmd, debian = riot_command(workdir)
    syntax = {"turtle": "ttl", "trig": "trig", "nt": "nt", "nq": "nq",
              # Debian packages no JSON-P provider for Jena's JSON-LD 1.1 reader; its JSON-LD 1.0 reader works
              "jsonld": "jsonld10" if debian else "jsonld"}[fmt]
    done = subprocess.run(cmd + [f"--syntax={syntax}", "--output=nq", str(path)], capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _dataset(text: str, fmt: str) -> rdflib.Dataset:
    ds = rdflib.Dataset()
    with warnings.catch_warnings():
        # rdflib 7's Dataset.parse calls its own deprecated default_context
        warnings.simplefilter("ignore", DeprecationWarning)
        if text.strip():
            ds.parse(data=text, format=fmt)
    return ds


def read_with_rdflib(text: str, fmt: str) -> str:
    ds = _dataset(text, {"turtle": "turtle", "trig": "trig", "nt": "nt", "nq": "nquads", "jsonld": "json-ld"}[fmt])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return ds.serialize(format="nquads")


def read_with_pyoxigraph(text: str, fmt: str) -> str:
    fmts = {"turtle": ox.RdfFormat.TURTLE, "trig": ox.RdfFormat.TRIG, "nt": ox.RdfFormat.N_TRIPLES,
            "nq": ox.RdfFormat.N_QUADS, "jsonld": ox.RdfFormat.JSON_LD}
    return "".join(f"{q} .\n" for q in ox.parse(text.encode("utf-8"), format=fmts[fmt]))


def graphs(nquads: str) -> dict[str, rdflib.Graph]:
    """N-Quads text as one rdflib graph per graph name ("" for the default graph)."""
    ds = _dataset(nquads, "nquads")
    out: dict[str, rdflib.Graph] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        for s, p, o, g in ds.quads((None, None, None, None)):
            name = "" if g is None or str(g) == "urn:x-rdflib:default" else str(g)
            out.setdefault(name, rdflib.Graph()).add((s, p, o))
    return out


def same_dataset(a: str, b: str) -> bool:
    ga, gb = graphs(a), graphs(b)
    return ga.keys() == gb.keys() and all(isomorphic(ga[k], gb[k]) for k in ga)


# -- bases with markings ------------------------------------------------------

def entity(slug: str, cls: str, level: str | None) -> list[ox.Quad]:
    node = ox.NamedNode(CFID_NS + slug)
    quads = [ox.Quad(node, RDF.type, CFKB.term(cls)),
             ox.Quad(node, RDFS.label, ox.Literal(f"label {slug}", language="en"))]
    if level:
        quads.append(ox.Quad(node, CFKB.tlp, tlp_term(level)))
    return quads


def claim(subject: str, obj: str, source: str, *, level: str | None, quote: str, speaker: str | None = None,
          day: int = 1) -> Claim:
    return Claim(subject=CFID_NS + subject, predicate=CFKB.leads.value, object=CFID_NS + obj,
                 source=CFID_NS + source, speaker=CFID_NS + speaker if speaker else None,
                 election=None, date=dt.date(2023, 8, day), quote=quote, quote_lang="en", tlp=level)


def level_token(i: int) -> str:
    return f"l{i}"


LEVELS = TLP_LEVELS
