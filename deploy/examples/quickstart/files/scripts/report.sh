#!/bin/sh
# Prints how many documents the quickstart tree holds.
find "$(dirname "$0")/../documents" -type f | wc -l
