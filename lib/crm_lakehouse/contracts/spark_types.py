"""Spark SQL type strings (``bigint``, ``array<string>``, ``struct<a:string>``) without a JVM.

Contracts state each column's ``physicalType`` as a Spark SQL type string. Parsing happens while
the YAML is validated, before any SparkSession exists, so this module implements the small
grammar itself instead of calling ``DataType.fromDDL`` (which needs a running JVM). Comparison is
done on :meth:`DataType.simpleString`, Spark's canonical spelling, so ``long`` and ``bigint``
or ``integer`` and ``int`` are the same type.
"""

from __future__ import annotations

import re

from pyspark.sql.types import (
    ArrayType,
    BinaryType,
    BooleanType,
    ByteType,
    DataType,
    DateType,
    DecimalType,
    DoubleType,
    FloatType,
    IntegerType,
    LongType,
    MapType,
    NullType,
    ShortType,
    StringType,
    StructField,
    StructType,
    TimestampNTZType,
    TimestampType,
)

_PRIMITIVES: dict[str, type[DataType]] = {
    "string": StringType,
    "varchar": StringType,
    "boolean": BooleanType,
    "bool": BooleanType,
    "tinyint": ByteType,
    "byte": ByteType,
    "smallint": ShortType,
    "short": ShortType,
    "int": IntegerType,
    "integer": IntegerType,
    "bigint": LongType,
    "long": LongType,
    "float": FloatType,
    "real": FloatType,
    "double": DoubleType,
    "date": DateType,
    "timestamp": TimestampType,
    "timestamp_ltz": TimestampType,
    "timestamp_ntz": TimestampNTZType,
    "binary": BinaryType,
    "void": NullType,
}
_TOKEN = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*|`[^`]+`|\d+|[<>(),:])")


class TypeStringError(ValueError):
    """A physical type string is not a Spark SQL type this module understands."""


def parse_type(text: str) -> DataType:
    """Parse a Spark SQL type string into a pyspark :class:`DataType`.

    Struct fields are nullable (a type string cannot say otherwise). Raises
    :class:`TypeStringError` with the offending position when the string does not parse.
    """
    tokens = _tokenise(text)
    parser = _Parser(tokens, text)
    result = parser.type_()
    if parser.pos != len(tokens):
        raise TypeStringError(f"unexpected {tokens[parser.pos]!r} in type {text!r}")
    return result


def canonical(data_type: DataType) -> str:
    """Spark's canonical spelling of a type (``bigint``, ``array<string>``)."""
    return data_type.simpleString()


def same_type(a: DataType, b: DataType) -> bool:
    """True when two types are the same Spark type, ignoring nullability and field metadata."""
    return canonical(a) == canonical(b)


def _tokenise(text: str) -> list[str]:
    tokens: list[str] = []
    pos = 0
    stripped = text.rstrip()
    while pos < len(stripped):
        m = _TOKEN.match(stripped, pos)
        if not m:
            raise TypeStringError(f"cannot read type {text!r} at position {pos}")
        tokens.append(m.group(1))
        pos = m.end()
    if not tokens:
        raise TypeStringError("empty type string")
    return tokens


class _Parser:
    def __init__(self, tokens: list[str], text: str) -> None:
        self.tokens = tokens
        self.text = text
        self.pos = 0

    def _peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _take(self, expected: str | None = None) -> str:
        token = self._peek()
        if token is None:
            raise TypeStringError(f"type {self.text!r} ends too early")
        if expected is not None and token.lower() != expected:
            raise TypeStringError(f"expected {expected!r}, found {token!r} in type {self.text!r}")
        self.pos += 1
        return token

    def type_(self) -> DataType:
        name = self._take().lower()
        if name == "array":
            self._take("<")
            element = self.type_()
            self._take(">")
            return ArrayType(element, True)
        if name == "map":
            self._take("<")
            key = self.type_()
            self._take(",")
            value = self.type_()
            self._take(">")
            return MapType(key, value, True)
        if name == "struct":
            self._take("<")
            fields: list[StructField] = []
            while self._peek() != ">":
                if fields:
                    self._take(",")
                field_name = self._take().strip("`")
                self._take(":")
                fields.append(StructField(field_name, self.type_(), True))
            self._take(">")
            return StructType(fields)
        if name in ("decimal", "dec", "numeric"):
            precision, scale = 10, 0
            if self._peek() == "(":
                self._take("(")
                precision = self._int()
                if self._peek() == ",":
                    self._take(",")
                    scale = self._int()
                self._take(")")
            return DecimalType(precision, scale)
        if name in ("varchar", "char") and self._peek() == "(":
            self._take("(")
            self._int()
            self._take(")")
            return StringType()
        try:
            return _PRIMITIVES[name]()
        except KeyError:
            raise TypeStringError(
                f"unknown type {name!r} in {self.text!r} (known: {sorted(_PRIMITIVES)}, "
                "decimal(p,s), array<...>, map<...,...>, struct<...>)"
            ) from None

    def _int(self) -> int:
        token = self._take()
        if not token.isdigit():
            raise TypeStringError(f"expected a number, found {token!r} in type {self.text!r}")
        return int(token)
