module github.com/unbrick/unbrick

go 1.26
