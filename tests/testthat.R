library(testthat)
library(concordR)

test_check("concordR")
