#!/usr/bin/env python3
"""Browser test of the agentcore web console (headless Chromium through Selenium).

    python3 scripts/console_test.py --base-url http://127.0.0.1:8080 --workspace acme --project web \
        --instance c1 --context plan --out /tmp/console-shots [--token T]

Opens the console at --base-url, clicks from the workspace list to the project's instances (paging
if needed) and checks the instance is listed with a valid status; opens the instance and checks the
context is listed (screenshot console-instance.png); opens the context and checks the shown current
data equals the API's; selects two versions whose diff is not empty (A from the version list's "A"
button, B from the select) and checks the diff lists every operation of the API's patch and the
side-by-side view marks changed lines (screenshot console-diff.png); checks the live feed connected.
The context needs at least two retained versions with different data.

Needs: selenium (pip), Debian's chromium and chromium-driver (/usr/bin/chromium, /usr/bin/chromedriver).
Exit status 0 when every check passes, 1 otherwise (with the failed check on stderr).
"""

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

try:
    from selenium import webdriver
    from selenium.common.exceptions import TimeoutException, WebDriverException
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait
except ImportError:
    sys.exit('console_test: selenium is not installed (pip install selenium, e.g. in a venv)')

STATUSES = {'idle', 'initializing', 'active', 'busy', 'error', 'offline'}
TOKEN_KEY = 'agentcore.console.token'


class CheckFailed(Exception):
    pass


def q(s):
    return urllib.parse.quote(str(s), safe='')


class Api:
    """Reads the same HTTP API as the console, to know what it should show."""

    def __init__(self, base, token, timeout):
        self.base, self.token, self.timeout = base.rstrip('/'), token, timeout

    def get(self, path):
        req = urllib.request.Request(self.base + path, headers={'Accept': 'application/json'})
        if self.token:
            req.add_header('Authorization', 'Bearer ' + self.token)
        deadline = time.time() + self.timeout
        while True:
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as r:
                    return json.loads(r.read().decode('utf-8'))
            except urllib.error.HTTPError as e:
                body = e.read().decode('utf-8', 'replace')
                if e.code == 503 and time.time() < deadline:
                    time.sleep(min(5, int(e.headers.get('Retry-After') or 2)))
                    continue
                raise CheckFailed('API GET %s answered %d: %s' % (path, e.code, body[:300]))
            except urllib.error.URLError as e:
                raise CheckFailed('API GET %s failed: %s' % (path, e.reason))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--base-url', required=True)
    ap.add_argument('--workspace', required=True)
    ap.add_argument('--project', required=True)
    ap.add_argument('--instance', required=True)
    ap.add_argument('--context', required=True)
    ap.add_argument('--out', required=True, help='directory for the screenshots')
    ap.add_argument('--token', default='')
    ap.add_argument('--timeout', type=float, default=20.0, help='seconds to wait for each page state')
    ap.add_argument('--chromium', default='/usr/bin/chromium')
    ap.add_argument('--chromedriver', default='/usr/bin/chromedriver')
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    base = args.base_url.rstrip('/')

    opts = Options()
    opts.binary_location = args.chromium
    for a in ('--headless=new', '--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu',
              '--window-size=1366,900', '--hide-scrollbars'):
        opts.add_argument(a)
    opts.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
    try:
        driver = webdriver.Chrome(service=Service(executable_path=args.chromedriver), options=opts)
    except WebDriverException as e:
        sys.exit('console_test: cannot start chromium/chromedriver: %s' % e.msg)
    try:
        shots = run(driver, Api(base, args.token, args.timeout), base, args)
    except CheckFailed as e:
        path = os.path.join(args.out, 'console-failure.png')
        try:
            driver.save_screenshot(path)
            print('screenshot of the failure: %s' % path, file=sys.stderr)
        except WebDriverException:
            pass
        print('console_test: FAILED: %s' % e, file=sys.stderr)
        sys.exit(1)
    finally:
        driver.quit()
    for p in shots:
        print(p)
    print('console_test: all checks passed')


def run(driver, api, base, args):
    ws, project, iid, cname = args.workspace, args.project, args.instance, args.context

    def wait(cond, what, timeout=None):
        try:
            return WebDriverWait(driver, timeout or args.timeout, poll_frequency=0.2).until(lambda d: cond(d))
        except TimeoutException:
            err = driver.find_elements(By.CSS_SELECTOR, '#error')
            detail = ' (page shows: %s)' % err[0].text.strip() if err else ''
            raise CheckFailed('timed out after %gs waiting for %s%s' % (timeout or args.timeout, what, detail))

    def present(css):
        return lambda d: d.find_elements(By.CSS_SELECTOR, css) or False

    def error_or(css):
        def f(d):
            found = d.find_elements(By.CSS_SELECTOR, css)
            if found:
                return found
            err = d.find_elements(By.CSS_SELECTOR, '#error')
            if err:
                raise CheckFailed('the console shows an error: %s' % err[0].text.strip())
            return False
        return f

    def by_data(css, attr, value):
        for el in driver.find_elements(By.CSS_SELECTOR, css):
            if el.get_attribute(attr) == value:
                return el
        return None

    def ok(msg):
        print('ok: ' + msg, flush=True)

    # 1. the console, with the token stored as the console stores it
    driver.get(base + '/')
    if args.token:
        driver.execute_script('localStorage.setItem(arguments[0], arguments[1]);', TOKEN_KEY, args.token)
        driver.get(base + '/#/')
        driver.refresh()
    wait(error_or('#workspaces, #workspaces-empty'), 'the workspace list')
    if driver.find_elements(By.CSS_SELECTOR, '#auth:not([hidden])'):
        raise CheckFailed('the console asks for a token (the API answered 401); pass --token')
    ok('workspace list shown')

    # 2. workspace -> project (clicking), else the hash route
    card = by_data('.workspace', 'data-id', ws)
    link = None
    if card is not None:
        for a in card.find_elements(By.CSS_SELECTOR, '.project-link'):
            if a.get_attribute('data-project') == project:
                link = a
    if link is not None:
        link.click()
        ok('clicked project %s in workspace %s' % (project, ws))
    else:
        print('note: project %s of workspace %s is not in the workspace list; opening its route' % (project, ws))
        driver.get(base + '/#/w/%s/p/%s' % (q(ws), q(project)))

    # 3. the instance in the list (following "Next page" if needed)
    row = None
    for _ in range(100):
        wait(error_or('#instances, #instances-empty'), 'the instance list of %s/%s' % (ws, project))
        row = by_data('.instance-row', 'data-id', iid)
        if row is not None:
            break
        nxt = driver.find_elements(By.CSS_SELECTOR, '#page-next')
        if not nxt:
            break
        old = driver.find_element(By.CSS_SELECTOR, '#pager')
        nxt[0].click()
        wait(lambda d: not _alive(old), 'the next page of instances')
    if row is None:
        raise CheckFailed('instance %s is not listed in %s/%s' % (iid, ws, project))
    shown = row.find_element(By.CSS_SELECTOR, '.status .badge').text.strip()
    if shown not in STATUSES:
        raise CheckFailed('instance %s is listed with status %r, not one of %s' % (iid, shown, sorted(STATUSES)))
    actual = api.get('/v1/workspaces/%s/projects/%s/instances/%s' % (q(ws), q(project), q(iid)))['status']
    ok('instance %s listed with status %s' % (iid, shown) + ('' if actual == shown else ' (the API now says %s)' % actual))

    # 4. the instance page and its context
    row.find_element(By.CSS_SELECTOR, '.instance-link').click()
    wait(error_or('#contexts, #contexts-empty'), 'the instance page of %s' % iid)
    page = driver.find_element(By.CSS_SELECTOR, '#instance')
    if page.get_attribute('data-id') != iid:
        raise CheckFailed('the instance page shows %r, not %r' % (page.get_attribute('data-id'), iid))
    crow = by_data('.context-row', 'data-name', cname)
    if crow is None:
        raise CheckFailed('context %r is not listed on the page of instance %s' % (cname, iid))
    ok('instance page lists context %s (v%s)' % (cname, crow.get_attribute('data-version')))
    shots = [os.path.join(args.out, 'console-instance.png')]
    driver.save_screenshot(shots[0])

    # 5. the context page: current data equals the API's
    crow.find_element(By.CSS_SELECTOR, '.context-link').click()
    pre = wait(error_or('#current-data'), 'the current data of context %s' % cname)[0]
    shown_version = int(pre.get_attribute('data-version'))
    try:
        shown_data = json.loads(pre.text)
    except ValueError:
        raise CheckFailed('the current data shown is not JSON: %r' % pre.text[:200])
    cbase = '/v1/workspaces/%s/projects/%s/instances/%s/contexts/%s' % (q(ws), q(project), q(iid), q(cname))
    expect = api.get(cbase + '?version=%d' % shown_version)['version']['data']
    if shown_data != expect:
        raise CheckFailed('the current data shown (v%d) differs from the API\'s' % shown_version)
    ok('context %s shows its current data (v%d)' % (cname, shown_version))

    # 6. pick two versions with a non-empty diff
    ctx = api.get(cbase)['context']
    b = shown_version
    oldest = max(ctx['oldest_version'], b - 20)
    if b <= ctx['oldest_version']:
        raise CheckFailed('context %s keeps only one version (v%d): a diff needs two; write another version first' % (cname, b))
    a, patch = None, None
    for n in range(oldest, b):
        p = api.get(cbase + '/diff?from=%d&to=%d' % (n, b))['patch']
        if p:
            a, patch = n, p
            break
    if a is None:
        raise CheckFailed('no retained version of %s from v%d to v%d differs from v%d' % (cname, oldest, b - 1, b))
    wait(present('#diff-to'), 'the diff controls')
    Select(driver.find_element(By.CSS_SELECTOR, '#diff-to')).select_by_value(str(b))
    vrow = by_data('.version-row', 'data-version', str(a))
    if vrow is not None:
        vrow.find_element(By.CSS_SELECTOR, '.pick-a').click()
        how = 'A by its row button, B by the select'
    else:
        Select(driver.find_element(By.CSS_SELECTOR, '#diff-from')).select_by_value(str(a))
        how = 'both by the selects'
    sel = '#diff[data-from="%d"][data-to="%d"]' % (a, b)
    box = wait(present(sel + '[data-state="ready"], ' + sel + '[data-state="error"]'), 'the diff v%d -> v%d' % (a, b))[0]
    if box.get_attribute('data-state') == 'error':
        raise CheckFailed('the diff v%d -> v%d shows an error: %s' % (a, b, box.text.strip()))
    ops = driver.find_elements(By.CSS_SELECTOR, '#diff .op')
    if not ops:
        raise CheckFailed('the diff v%d -> v%d shows no operation' % (a, b))
    if len(ops) != len(patch):
        raise CheckFailed('the diff v%d -> v%d shows %d operations, the API\'s patch has %d' % (a, b, len(ops), len(patch)))
    if driver.find_elements(By.CSS_SELECTOR, '#diff-mismatch'):
        raise CheckFailed(driver.find_element(By.CSS_SELECTOR, '#diff-mismatch').text.strip())
    if not driver.find_elements(By.CSS_SELECTOR, '#diff-side td.changed'):
        raise CheckFailed('the side-by-side view of v%d and v%d marks no changed line' % (a, b))
    ok('diff v%d -> v%d (picked %s) shows %d operation(s): %s' % (
        a, b, how, len(ops), ', '.join(sorted({o.text for o in ops}))))
    driver.execute_script("document.getElementById('diff-panel').scrollIntoView({block: 'start'});")
    time.sleep(0.3)
    shots.append(os.path.join(args.out, 'console-diff.png'))
    driver.save_screenshot(shots[-1])

    # 7. the live feed is connected to the workspace
    wait(present('#feed[data-state="open"]'), 'the live event feed to connect')
    ok('live feed connected for workspace %s' % ws)

    # 8. no uncaught script errors
    try:
        logs = driver.get_log('browser')
    except WebDriverException:
        logs = []
    uncaught = [e['message'] for e in logs if e.get('level') == 'SEVERE' and 'Uncaught' in e.get('message', '')]
    if uncaught:
        raise CheckFailed('script errors in the page: %s' % ' | '.join(uncaught[:3]))
    ok('no uncaught script errors')
    return shots


def _alive(el):
    try:
        el.is_displayed()
        return True
    except WebDriverException:
        return False


if __name__ == '__main__':
    main()
