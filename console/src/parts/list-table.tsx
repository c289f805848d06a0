// A list page's table with its loading and empty states: column headers (an empty name is the actions column) and rows.
import type { ComponentChildren } from 'preact';
import { Empty, Loading } from './status';

export interface ListTableProps {
  /** True while the first load runs (a reload keeps the rows shown). */
  loading: boolean;
  what: string;
  empty: string;
  count: number;
  columns: string[];
  children: ComponentChildren;
}

export function ListTable({ loading, what, empty, count, columns, children }: ListTableProps) {
  if (loading) return <Loading what={what} />;
  if (count === 0) return <Empty>{empty}</Empty>;
  return (
    <table class="list">
      <thead>
        <tr>
          {columns.map((c, i) => (
            <th key={i} scope="col">
              {c || <span class="sr-only">Actions</span>}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>{children}</tbody>
    </table>
  );
}
