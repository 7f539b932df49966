package sqlitedialect_test

import (
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
	"gorm.io/gorm/logger"

	"github.com/handybind/handybind/internal/store/sqlstore/sqlitedialect"
)

type parent struct {
	ID   int64 `gorm:"primaryKey"`
	Name string
}

type child struct {
	ID       int64 `gorm:"primaryKey"`
	ParentID int64
}

// openDB opens a fresh SQLite file through modernc.org/sqlite (imported by the dialect) with
// foreign keys enforced, as handybind's own DSN does.
func openDB(t *testing.T, cfg *gorm.Config) *gorm.DB {
	t.Helper()
	dsn := "file:" + filepath.Join(t.TempDir(), "test.db") + "?_pragma=foreign_keys(1)"
	sqlDB, err := sql.Open("sqlite", dsn)
	require.NoError(t, err)
	sqlDB.SetMaxOpenConns(1)
	t.Cleanup(func() { _ = sqlDB.Close() })
	cfg.Logger = logger.Discard
	db, err := gorm.Open(sqlitedialect.New(sqlDB), cfg)
	require.NoError(t, err)
	require.NoError(t, db.Exec(`CREATE TABLE parents (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)`).Error)
	require.NoError(t, db.Exec(`CREATE TABLE children (id INTEGER PRIMARY KEY, parent_id INTEGER NOT NULL REFERENCES parents (id))`).Error)
	require.NoError(t, db.Create(&parent{ID: 1, Name: "a"}).Error)
	return db
}

func TestTranslate(t *testing.T) {
	t.Parallel()
	db := openDB(t, &gorm.Config{TranslateError: true})
	for _, tc := range []struct {
		name string
		run  func(*gorm.DB) error
		want error // nil: the driver's error comes through untranslated
	}{
		{"unique", func(db *gorm.DB) error { return db.Create(&parent{ID: 2, Name: "a"}).Error }, gorm.ErrDuplicatedKey},
		{"primary key", func(db *gorm.DB) error { return db.Create(&parent{ID: 1, Name: "b"}).Error }, gorm.ErrDuplicatedKey},
		{"foreign key", func(db *gorm.DB) error { return db.Create(&child{ID: 1, ParentID: 9}).Error }, gorm.ErrForeignKeyViolated},
		{"not null", func(db *gorm.DB) error { return db.Exec(`INSERT INTO parents (id) VALUES (3)`).Error }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run(db)
			require.Error(t, err)
			if tc.want != nil {
				require.ErrorIs(t, err, tc.want)
				return
			}
			require.False(t, errors.Is(err, gorm.ErrDuplicatedKey) || errors.Is(err, gorm.ErrForeignKeyViolated), "%v", err)
			require.Contains(t, err.Error(), "NOT NULL constraint failed")
		})
	}
	other := errors.New("not from SQLite")
	require.Same(t, other, sqlitedialect.Dialector{}.Translate(other))
}

// handybind leaves TranslateError off and reads SQLite's message instead (sqlstore.adapt): the
// message must still reach it.
func TestUntranslatedKeepsSQLiteMessage(t *testing.T) {
	t.Parallel()
	db := openDB(t, &gorm.Config{})
	err := db.Create(&parent{ID: 2, Name: "a"}).Error
	require.ErrorContains(t, err, "UNIQUE constraint failed")
	require.NotErrorIs(t, err, gorm.ErrDuplicatedKey)
	err = db.Create(&child{ID: 1, ParentID: 9}).Error
	require.ErrorContains(t, err, "FOREIGN KEY constraint failed")
}

func TestSQL(t *testing.T) {
	t.Parallel()
	db := openDB(t, &gorm.Config{})
	for _, tc := range []struct {
		name string
		run  func(*gorm.DB) *gorm.DB
		want string
	}{
		{"quoted names", func(tx *gorm.DB) *gorm.DB { return tx.Where(map[string]any{"parents.name": "a"}).Find(&[]parent{}) },
			"SELECT * FROM `parents` WHERE `parents`.`name` = \"a\""},
		{"limit", func(tx *gorm.DB) *gorm.DB { return tx.Limit(5).Find(&[]parent{}) },
			"SELECT * FROM `parents` LIMIT 5"},
		{"offset needs a limit", func(tx *gorm.DB) *gorm.DB { return tx.Offset(10).Find(&[]parent{}) },
			"SELECT * FROM `parents` LIMIT -1 OFFSET 10"},
		{"no row locks", func(tx *gorm.DB) *gorm.DB {
			return tx.Clauses(clause.Locking{Strength: "UPDATE"}).Where("id = ?", 1).Find(&[]parent{})
		}, "SELECT * FROM `parents` WHERE id = 1"},
		// The auto-increment key is read back with RETURNING, as gorm.io/driver/sqlite does.
		{"upsert", func(tx *gorm.DB) *gorm.DB {
			return tx.Clauses(clause.OnConflict{
				Columns:   []clause.Column{{Name: "name"}},
				DoUpdates: clause.AssignmentColumns([]string{"id"}),
			}).Create(&parent{ID: 2, Name: "b"})
		}, "INSERT INTO `parents` (`name`,`id`) VALUES (\"b\",2) ON CONFLICT (`name`) DO UPDATE SET `id`=`excluded`.`id` RETURNING `id`"},
		{"returning", func(tx *gorm.DB) *gorm.DB {
			return tx.Model(&parent{}).Clauses(clause.Returning{}).Where("id = ?", 1).Update("name", "c")
		}, "UPDATE `parents` SET `name`=\"c\" WHERE id = 1 RETURNING *"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := db.ToSQL(tc.run)
			require.Equal(t, tc.want, strings.TrimSpace(got))
		})
	}
}

func TestQuoteTo(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"runs":          "`runs`",
		"runs.id":       "`runs`.`id`",
		"`runs`.`id`":   "`runs`.`id`",
		"odd`name":      "`odd``name`",
		"main.runs.id":  "`main`.`runs`.`id`",
		"`runs`.status": "`runs`.`status`",
	} {
		var b strings.Builder
		sqlitedialect.Dialector{}.QuoteTo(&b, in)
		require.Equal(t, want, b.String(), in)
	}
}

func TestNestedTransactionRollsBackToSavepoint(t *testing.T) {
	t.Parallel()
	db := openDB(t, &gorm.Config{})
	inner := errors.New("inner fails")
	err := db.Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(&parent{ID: 2, Name: "kept"}).Error; err != nil {
			return err
		}
		require.ErrorIs(t, tx.Transaction(func(tx *gorm.DB) error {
			require.NoError(t, tx.Create(&parent{ID: 3, Name: "dropped"}).Error)
			return inner
		}), inner)
		return nil
	})
	require.NoError(t, err)
	var names []string
	require.NoError(t, db.Model(&parent{}).Order("id").Pluck("name", &names).Error)
	require.Equal(t, []string{"a", "kept"}, names)
}
