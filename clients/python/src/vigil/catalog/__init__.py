"""Generated from the Vigil protos by tools/generate.py. Do not edit."""
