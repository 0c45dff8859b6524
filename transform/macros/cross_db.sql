{#
  Where DuckDB and PostgreSQL differ, one macro each, dispatched on the adapter. The loaders
  store the tap's JSON columns as JSON (target-duckdb) or jsonb (target-postgres).
#}

{# The text of `key` in a JSON object column (null when absent or JSON null). #}
{% macro heymarket_json_text(column, key) %}
  {{ return(adapter.dispatch('heymarket_json_text', 'heymarket')(column, key)) }}
{% endmacro %}
{% macro duckdb__heymarket_json_text(column, key) %}json_extract_string({{ column }}, '$.{{ key }}'){% endmacro %}
{% macro postgres__heymarket_json_text(column, key) %}(({{ column }})::jsonb ->> '{{ key }}'){% endmacro %}

{# A JSON value as text: a string as it is, JSON null as null, anything else as its JSON. #}
{% macro heymarket_json_as_text(column) %}
  {{ return(adapter.dispatch('heymarket_json_as_text', 'heymarket')(column)) }}
{% endmacro %}
{% macro duckdb__heymarket_json_as_text(column) %}case json_type({{ column }}) when 'NULL' then null when 'VARCHAR' then json_extract_string({{ column }}, '$') else cast({{ column }} as varchar) end{% endmacro %}
{% macro postgres__heymarket_json_as_text(column) %}case jsonb_typeof(({{ column }})::jsonb) when 'null' then null when 'string' then ({{ column }})::jsonb #>> '{}' else cast({{ column }} as varchar) end{% endmacro %}

{#
  An id the API set, or null: an unset reference may arrive as null, 0 or "" (a zero value).
#}
{% macro heymarket_real_id(expression) %}case when cast({{ expression }} as varchar) in ('', '0') then null else cast({{ expression }} as bigint) end{% endmacro %}

{# Decimal minutes from `start` to `stop`. #}
{% macro heymarket_minutes_between(start, stop) %}
  {{ return(adapter.dispatch('heymarket_minutes_between', 'heymarket')(start, stop)) }}
{% endmacro %}
{# Decimal minutes as double precision on both, so that both warehouses give equal values. #}
{% macro duckdb__heymarket_minutes_between(start, stop) %}cast((epoch({{ stop }}) - epoch({{ start }})) / 60.0 as double precision){% endmacro %}
{% macro postgres__heymarket_minutes_between(start, stop) %}cast(extract(epoch from ({{ stop }}) - ({{ start }})) / 60.0 as double precision){% endmacro %}

{# `timestamp` plus a number of hours. #}
{% macro heymarket_add_hours(timestamp, hours) %}
  {{ return(adapter.dispatch('heymarket_add_hours', 'heymarket')(timestamp, hours)) }}
{% endmacro %}
{% macro duckdb__heymarket_add_hours(timestamp, hours) %}({{ timestamp }} + to_hours(cast({{ hours }} as bigint))){% endmacro %}
{% macro postgres__heymarket_add_hours(timestamp, hours) %}({{ timestamp }} + ({{ hours }}) * interval '1 hour'){% endmacro %}

{# The continuous `fraction` percentile of `column` (0.5: the median), as an aggregate. #}
{% macro heymarket_percentile(column, fraction) %}
  {{ return(adapter.dispatch('heymarket_percentile', 'heymarket')(column, fraction)) }}
{% endmacro %}
{% macro duckdb__heymarket_percentile(column, fraction) %}quantile_cont({{ column }}, {{ fraction }}){% endmacro %}
{% macro postgres__heymarket_percentile(column, fraction) %}percentile_cont({{ fraction }}) within group (order by {{ column }}){% endmacro %}

{# Rows of `relation` with one row per element of its JSON array `column`, as `element`. #}
{% macro heymarket_json_elements(relation, column, columns) %}
  {{ return(adapter.dispatch('heymarket_json_elements', 'heymarket')(relation, column, columns)) }}
{% endmacro %}
{% macro duckdb__heymarket_json_elements(relation, column, columns) %}
  select {{ columns | join(', ') }}, unnest(json_transform(r.{{ column }}, '["JSON"]')) as element
  from {{ relation }} as r
  where json_type(r.{{ column }}) = 'ARRAY'
{% endmacro %}
{#
  target-postgres (MeltanoLabs) stores a JSON array column as jsonb[], other loaders as jsonb:
  the column's type, read at compile time, says which to unnest.
#}
{% macro postgres__heymarket_json_elements(relation, column, columns) %}
  {%- set found = namespace(kind='jsonb') -%}
  {%- if execute -%}
    {%- for c in adapter.get_columns_in_relation(relation) if c.name == column -%}
      {%- if c.dtype | lower in ('array', '_jsonb', 'jsonb[]') -%}{%- set found.kind = 'array' -%}{%- endif -%}
    {%- endfor -%}
  {%- endif -%}
  {%- set kind = found.kind -%}
  select {{ columns | join(', ') }}, e.value as element
  from {{ relation }} as r
  {%- if kind == 'array' %}
  cross join lateral unnest(r.{{ column }}) as e(value)
  {%- else %}
  cross join lateral jsonb_array_elements(case when jsonb_typeof((r.{{ column }})::jsonb) = 'array' then (r.{{ column }})::jsonb else '[]'::jsonb end) as e(value)
  {%- endif %}
{% endmacro %}

{# A keyword reply: the text, trimmed and upper-cased, is one of `keywords`. #}
{% macro heymarket_is_keyword(text, keywords) %}(upper(trim({{ text }})) in ({% for k in keywords %}'{{ k | upper }}'{% if not loop.last %}, {% endif %}{% endfor %})){% endmacro %}

{# `a in (...)` for a list var of strings. #}
{% macro heymarket_in_list(expression, values) %}({{ expression }} in ({% for v in values %}'{{ v }}'{% if not loop.last %}, {% endif %}{% endfor %})){% endmacro %}

{# `numerator / denominator` as double precision on both warehouses; null for a zero denominator. #}
{% macro heymarket_ratio(numerator, denominator) %}(cast({{ numerator }} as double precision) / nullif({{ denominator }}, 0)){% endmacro %}
