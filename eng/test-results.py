#!/usr/bin/env python3
"""Reads the suite's xUnit.net XML report (dotnet test --report-xunit-xml) and prints what it holds.

    eng/test-results.py RESULTS.xml [--expected-skips tests/expected-skips.tsv --edition apache|community]

Prints the failed tests, the skipped ones with their reasons and, last, one line
    EDITION: N passed, N failed, N skipped
With --expected-skips, every skipped test must be listed for the edition (Class.Method, as in the report's type and
method); a skip that is not listed is reported and makes the exit status 1, as does a listed test that no longer
exists in the suite. A listed test that ran instead of skipping is only mentioned (a server may offer more than the
list assumes). Exit 1 also when the report is missing or any test failed.
"""
import argparse
import csv
import sys
import xml.etree.ElementTree as ET


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("results")
    parser.add_argument("--expected-skips")
    parser.add_argument("--edition", default="server")
    args = parser.parse_args()

    try:
        tests = list(ET.parse(args.results).getroot().iter("test"))
    except (OSError, ET.ParseError) as error:
        print(f"test results: cannot read {args.results}: {error}")
        print(f"{args.edition}: 0 passed, 1 failed, 0 skipped")
        return 1

    def key(test: ET.Element) -> str:
        return f"{test.get('type', '').rsplit('.', 1)[-1]}.{test.get('method', '')}"

    passed = [t for t in tests if t.get("result") == "Pass"]
    failed = [t for t in tests if t.get("result") == "Fail"]
    skipped = [t for t in tests if t.get("result") == "Skip"]
    status = 1 if failed else 0

    for test in failed:
        print(f"FAILED  {test.get('name')}")

    expected: dict[str, str] = {}
    stale: list[str] = []
    if args.expected_skips:
        with open(args.expected_skips, newline="", encoding="utf-8") as handle:
            rows = [r for r in csv.reader(handle, delimiter="\t") if r and not r[0].startswith("#")]
        bad = [r for r in rows if len(r) < 3 or not r[2].strip()]
        if bad:
            print(f"{args.expected_skips}: every line needs three tab-separated fields (edition, Class.Method, reason): {bad[0]}")
            status = 1
        expected = {r[1]: r[2] for r in rows if len(r) > 1 and r[0] == args.edition}
        known = {key(t) for t in tests}
        stale = sorted(set(expected) - known)
        for name in stale:
            print(f"STALE   {name}: listed in {args.expected_skips} for {args.edition}, but no such test ran; remove the line")
            status = 1

    unexpected = 0
    for test in sorted(skipped, key=key):
        reason = " ".join((test.findtext("reason") or "").split())
        if args.expected_skips and key(test) not in expected:
            print(f"UNEXPECTED SKIP  {test.get('name')}: {reason}")
            unexpected += 1
        else:
            print(f"skipped {test.get('name')}: {reason}")
    if unexpected:
        print(f"{unexpected} test(s) skipped that {args.expected_skips} does not expect on the {args.edition} edition: "
              "make them run here, or list them with the reason")
        status = 1
    if args.expected_skips:
        ran = sorted({key(t) for t in passed + failed} & set(expected))
        for name in ran:
            print(f"note    {name} is listed as skipping on {args.edition} but ran")

    # An unexpected skip counts as failed (not also as skipped); a stale or malformed list fails the run as one more.
    problems = len(failed) + unexpected + (1 if status and not failed and not unexpected else 0)
    print(f"{args.edition}: {len(passed)} passed, {problems} failed, {len(skipped) - unexpected} skipped")
    return status


if __name__ == "__main__":
    sys.exit(main())
