"""Turn a plan (CSV/XLSX table, plan text, .docx) into a PlanSpec, and store it."""
